{%- from 'octavia/map.jinja' import octavia with context %}
{%- from 'lib/openstack.jinja' import packages with context %}
include:
  - apt
  - openstack.debconf

{{ packages('octavia-worker', octavia.worker) }}
