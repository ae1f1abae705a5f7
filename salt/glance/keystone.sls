{%- from 'glance/map.jinja' import glance with context %}
{%- from 'lib/openstack.jinja' import keystone_registration with context %}
include:
  - keystone

{{ keystone_registration('glance', glance.service_password) }}
