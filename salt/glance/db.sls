{%- from 'glance/map.jinja' import glance with context %}
{%- from 'lib/mariadb.jinja' import database with context %}
include:
  - mariadb
  - glance.config

{{ database('glance', 'glance', 'glance', glance.db_password) }}

{#- `db check` asks the database whether its schema is current. #}
glance-db-sync:
  cmd.run:
    - name: glance-manage db_sync
    - runas: {{ glance.user }}
    - unless: glance-manage db check
    - require:
      - mysql_grants: glance-db-grants-local
      - mysql_grants: glance-db-grants-mgmt
      - file: glance-config
