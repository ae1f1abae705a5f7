{%- from 'neutron/map.jinja' import neutron with context %}
{%- from 'lib/mariadb.jinja' import database with context %}
include:
  - mariadb
  - neutron.server.config

{{ database('neutron', 'neutron', 'neutron', neutron.db_password) }}

{#- root asks the database whether its schema carries a migration version;
    the upgrade runs as neutron. #}
neutron-db-sync:
  cmd.run:
    - name: >-
        runuser -u {{ neutron.user }} -- neutron-db-manage
        --config-file {{ neutron.config }} --config-file {{ neutron.ml2_config }}
        upgrade head
    - unless: test -n "$(mariadb -N -e 'SELECT version_num FROM neutron.alembic_version')"
    - require:
      - mysql_grants: neutron-db-grants-local
      - mysql_grants: neutron-db-grants-mgmt
      - file: neutron-config
      - file: neutron-ml2-config
