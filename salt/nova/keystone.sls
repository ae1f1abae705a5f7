{%- from 'nova/map.jinja' import nova with context %}
{%- from 'lib/openstack.jinja' import keystone_registration with context %}
include:
  - keystone

{{ keystone_registration('nova', nova.service_password) }}
