{%- from 'nova/map.jinja' import nova with context %}
{%- from 'lib/openstack.jinja' import keystone_registration with context %}
{%- from 'openstack/map.jinja' import openstack with context %}
include:
  - keystone

{{ keystone_registration('nova', nova.service_password) }}

{#- Services that check service tokens know Nova's by this role: Cinder
    lets only a service delete the attachment of a volume to a server
    (keystone_authtoken's service_token_roles). #}
nova-keystone-service-role:
  openstack.role_granted:
    - name: service
    - user: nova
    - project: {{ openstack.service_project }}
    - require:
      - openstack: nova-keystone-user
