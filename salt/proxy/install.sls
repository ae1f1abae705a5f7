{%- from 'proxy/map.jinja' import proxy with context %}
include:
  - apt

proxy-pkg:
  pkg.installed:
    - name: {{ proxy.pkg }}
    - require:
      - sls: apt
