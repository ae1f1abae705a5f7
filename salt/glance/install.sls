{%- from 'glance/map.jinja' import glance with context %}
{%- from 'lib/openstack.jinja' import packages with context %}
include:
  - apt
  - openstack.debconf

{{ packages('glance', glance) }}
