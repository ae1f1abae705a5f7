{%- from 'placement/map.jinja' import placement with context %}
{%- from 'lib/mariadb.jinja' import database with context %}
include:
  - mariadb
  - placement.config

{{ database('placement', 'placement', 'placement', placement.db_password) }}

{#- placement-manage has no check: root asks the database whether its
    schema carries a migration version (`unless` runs as the state's
    runas, so the sync itself switches user). #}
placement-db-sync:
  cmd.run:
    - name: runuser -u {{ placement.user }} -- placement-manage db sync
    - unless: test -n "$(mariadb -N -e 'SELECT version_num FROM placement.alembic_version')"
    - require:
      - mysql_grants: placement-db-grants-local
      - mysql_grants: placement-db-grants-mgmt
      - file: placement-config
