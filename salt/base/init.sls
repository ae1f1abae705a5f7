{#- Tools every lab node has. #}
{%- from 'base/map.jinja' import base with context %}
include:
  - apt

base-packages:
  pkg.installed:
    - pkgs: {{ base.packages | json }}
    - require:
      - sls: apt
