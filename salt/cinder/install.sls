{%- from 'cinder/map.jinja' import cinder with context %}
{%- from 'lib/openstack.jinja' import packages with context %}
include:
  - apt
  - openstack.debconf

{{ packages('cinder', cinder) }}
