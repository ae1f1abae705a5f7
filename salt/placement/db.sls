{%- from 'placement/map.jinja' import placement with context %}
{%- from 'lib/mariadb.jinja' import database with context %}
include:
  - mariadb
  - placement.config

{{ database('placement', 'placement', 'placement', placement.db_password) }}

{#- placement-manage has no check: the database's schema version is
    compared with the installed code's migration heads (`unless` runs as
    the state's runas, so the sync itself switches user). #}
placement-db-sync:
  cmd.run:
    - name: runuser -u {{ placement.user }} -- placement-manage db sync
    - unless:
      - fun: saltlab.schema_current
        databases: placement
        migrations: {{ placement.migrations }}
    - require:
      - mysql_grants: placement-db-grants-local
      - mysql_grants: placement-db-grants-mgmt
      - file: placement-config
