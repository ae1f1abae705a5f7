{%- from 'placement/map.jinja' import placement with context %}
{%- from 'lib/openstack.jinja' import packages with context %}
include:
  - apt
  - openstack.debconf

{{ packages('placement', placement) }}
