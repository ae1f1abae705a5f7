{%- from 'chrony/map.jinja' import chrony with context %}
include:
  - apt

chrony-pkg:
  pkg.installed:
    - name: {{ chrony.pkg }}
    - require:
      - sls: apt
