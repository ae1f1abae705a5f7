{%- from 'nova/map.jinja' import nova with context %}
{%- from 'openstack/macros.jinja' import packages with context %}
include:
  - apt
  - openstack.debconf

{{ packages('nova', nova) }}
