{%- from 'cinder/map.jinja' import cinder with context %}
{%- from 'lib/openstack.jinja' import keystone_registration with context %}
include:
  - keystone

{{ keystone_registration('cinder', cinder.service_password) }}
