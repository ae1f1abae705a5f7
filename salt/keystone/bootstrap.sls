{#- `keystone-manage bootstrap` once: the admin user, project and role, and
    the identity service with its endpoints. Whether it is needed is asked
    of Keystone itself: can admin get a token? The same credentials go into
    the controller's clouds.yaml, which the `openstack` modules use. #}
{%- from 'keystone/map.jinja' import keystone with context %}
{%- from 'openstack/map.jinja' import openstack with context %}
include:
  - keystone.service

keystone-clouds-yaml:
  file.managed:
    - name: {{ openstack.clouds_yaml }}
    - source: salt://lib/files/clouds.yaml.jinja
    - template: jinja
    - mode: '0600'
    - makedirs: true
    - show_changes: false
    - context:
        purpose: The lab's admin and demo users.
        clouds:
          - {name: {{ openstack.admin_cloud }}, user: {{ openstack.admin_user }}, project: {{ openstack.admin_project }},
             password: {{ keystone.admin_password | json }}}
          - {name: {{ openstack.demo_cloud }}, user: {{ openstack.demo_user }}, project: {{ openstack.demo_project }},
             password: {{ keystone.demo_password | json }}}

keystone-bootstrap:
  cmd.run:
    - name: >-
        runuser -u {{ keystone.user }} -- keystone-manage bootstrap
        --bootstrap-username {{ openstack.admin_user }}
        --bootstrap-project-name {{ openstack.admin_project }}
        --bootstrap-role-name admin
        --bootstrap-service-name keystone
        --bootstrap-region-id {{ openstack.region }}
        --bootstrap-admin-url {{ openstack.auth_url }}
        --bootstrap-internal-url {{ openstack.auth_url }}
        --bootstrap-public-url {{ openstack.auth_url }}
    # the password stays out of the process list; root asks Keystone
    # (`unless` runs as the state's runas: the command switches user)
    - env:
        OS_BOOTSTRAP_PASSWORD: {{ keystone.admin_password | json }}
    - unless: openstack --os-cloud {{ openstack.admin_cloud }} token issue -f value -c id
    - require:
      - service: keystone-service
      - file: keystone-clouds-yaml
