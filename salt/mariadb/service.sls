{%- from 'mariadb/map.jinja' import mariadb with context %}
include:
  - mariadb.config

mariadb-service:
  service.running:
    - name: {{ mariadb.service }}
    - enable: true
    - watch:
      - file: mariadb-config
