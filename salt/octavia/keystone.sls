{%- from 'octavia/map.jinja' import octavia with context %}
{%- from 'lib/openstack.jinja' import keystone_registration with context %}
include:
  - keystone

{{ keystone_registration('octavia', octavia.service_password) }}
