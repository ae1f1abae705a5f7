{%- from 'mariadb/map.jinja' import mariadb with context %}
{%- from 'lib/systemd.jinja' import after_address with context %}
include:
  - mariadb.config
  - addresswait
{{ after_address('mariadb', mariadb.service, mariadb.bind_address) }}

mariadb-service:
  service.running:
    - name: {{ mariadb.service }}
    - enable: true
    - watch:
      - file: mariadb-config
      - file: mariadb-after-address
