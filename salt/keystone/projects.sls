{#- The project that holds the services' users, and the demo project with
    its member user (Horizon's login in the tests). #}
{%- from 'keystone/map.jinja' import keystone with context %}
{%- from 'openstack/map.jinja' import openstack with context %}
include:
  - keystone.bootstrap

keystone-service-project:
  openstack.project_present:
    - name: {{ openstack.service_project }}
    - description: The lab's service users
    - require:
      - cmd: keystone-bootstrap

keystone-demo-project:
  openstack.project_present:
    - name: {{ openstack.demo_project }}
    - description: The lab's demo project
    - require:
      - cmd: keystone-bootstrap

keystone-demo-user:
  openstack.user_present:
    - name: {{ openstack.demo_user }}
    - password: {{ keystone.demo_password | json }}
    - default_project: {{ openstack.demo_project }}
    - require:
      - openstack: keystone-demo-project

keystone-demo-member:
  openstack.role_granted:
    - name: member
    - user: {{ openstack.demo_user }}
    - project: {{ openstack.demo_project }}
    - require:
      - openstack: keystone-demo-user
