{#- APT through the controller's cache: the controller runs apt-cacher-ng
    and fetches directly; every other node uses it as its proxy. #}
{%- from 'lab/map.jinja' import roles with context %}
include:
{%- if 'controller' in roles %}
  - apt.cache
{%- else %}
  - apt.proxy
{%- endif %}
