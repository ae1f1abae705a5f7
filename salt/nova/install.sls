{%- from 'nova/map.jinja' import nova with context %}
{%- from 'lib/openstack.jinja' import packages with context %}
include:
  - apt
  - openstack.debconf

{{ packages('nova', nova) }}
