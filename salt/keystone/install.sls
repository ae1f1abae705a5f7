{%- from 'keystone/map.jinja' import keystone with context %}
{%- from 'openstack/macros.jinja' import packages with context %}
include:
  - apt
  - openstack.debconf

{{ packages('keystone', keystone) }}
