{%- from 'placement/map.jinja' import placement with context %}
{%- from 'openstack/macros.jinja' import packages with context %}
include:
  - apt
  - openstack.debconf

{{ packages('placement', placement) }}
