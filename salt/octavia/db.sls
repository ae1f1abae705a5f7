{%- from 'octavia/map.jinja' import octavia with context %}
{%- from 'lib/mariadb.jinja' import database with context %}
include:
  - mariadb
  - octavia.config

{{ database('octavia', 'octavia', 'octavia', octavia.db_password) }}

{#- octavia-db-manage has no check: the database's schema version is
    compared with the installed code's migration heads. #}
octavia-db-sync:
  cmd.run:
    - name: runuser -u {{ octavia.user }} -- octavia-db-manage --config-file {{ octavia.config }} upgrade head
    - unless:
      - fun: saltlab.schema_current
        databases: octavia
        migrations: {{ octavia.migrations }}
    - require:
      - mysql_grants: octavia-db-grants-local
      - mysql_grants: octavia-db-grants-mgmt
      - file: octavia-config
