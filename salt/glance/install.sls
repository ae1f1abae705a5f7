{%- from 'glance/map.jinja' import glance with context %}
{%- from 'openstack/macros.jinja' import packages with context %}
include:
  - apt
  - openstack.debconf

{{ packages('glance', glance) }}
