{%- from 'packages/map.jinja' import packages with context %}
include:
  - apt

packages-installed:
  pkg.installed:
    - pkgs: {{ packages.pkgs | json }}
    - require:
      - sls: apt
