{%- from 'keystone/map.jinja' import keystone with context %}
{%- from 'lib/mariadb.jinja' import database with context %}
include:
  - mariadb
  - keystone.config

{{ database('keystone', 'keystone', 'keystone', keystone.db_password) }}

{#- `db_sync --check` asks the database whether its schema is current. #}
keystone-db-sync:
  cmd.run:
    - name: keystone-manage db_sync
    - runas: {{ keystone.user }}
    - unless: keystone-manage db_sync --check
    - require:
      - mysql_grants: keystone-db-grants-local
      - mysql_grants: keystone-db-grants-mgmt
      - file: keystone-config
