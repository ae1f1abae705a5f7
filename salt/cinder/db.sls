{%- from 'cinder/map.jinja' import cinder with context %}
{%- from 'lib/mariadb.jinja' import database with context %}
include:
  - mariadb
  - cinder.config

{{ database('cinder', 'cinder', 'cinder', cinder.db_password) }}

{#- cinder-manage has no check: the database's schema version is compared
    with the installed code's migration heads. #}
cinder-db-sync:
  cmd.run:
    - name: runuser -u {{ cinder.user }} -- cinder-manage db sync
    - unless:
      - fun: saltlab.schema_current
        databases: cinder
        migrations: {{ cinder.migrations }}
    - require:
      - mysql_grants: cinder-db-grants-local
      - mysql_grants: cinder-db-grants-mgmt
      - file: cinder-config
