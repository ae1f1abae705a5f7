{%- from 'rabbitmq/map.jinja' import rabbitmq with context %}
include:
  - apt

rabbitmq-pkg:
  pkg.installed:
    - name: {{ rabbitmq.pkg }}
    - require:
      - sls: apt
