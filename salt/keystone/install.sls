{%- from 'keystone/map.jinja' import keystone with context %}
{%- from 'lib/openstack.jinja' import packages with context %}
include:
  - apt
  - openstack.debconf

{{ packages('keystone', keystone) }}
