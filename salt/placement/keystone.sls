{%- from 'placement/map.jinja' import placement with context %}
{%- from 'lib/openstack.jinja' import keystone_registration with context %}
include:
  - keystone

{{ keystone_registration('placement', placement.service_password) }}
