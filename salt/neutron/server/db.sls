{%- from 'neutron/map.jinja' import neutron with context %}
{%- from 'lib/mariadb.jinja' import database with context %}
include:
  - mariadb
  - neutron.server.config

{{ database('neutron', 'neutron', 'neutron', neutron.db_password) }}

{#- the database's schema versions (expand and contract) are compared
    with the installed code's migration heads; the upgrade runs as
    neutron. #}
neutron-db-sync:
  cmd.run:
    - name: >-
        runuser -u {{ neutron.user }} -- neutron-db-manage
        --config-file {{ neutron.config }} --config-file {{ neutron.ml2_config }}
        upgrade head
    - unless:
      - fun: saltlab.schema_current
        databases: neutron
        migrations: {{ neutron.migrations }}
    - require:
      - mysql_grants: neutron-db-grants-local
      - mysql_grants: neutron-db-grants-mgmt
      - file: neutron-config
      - file: neutron-ml2-config
