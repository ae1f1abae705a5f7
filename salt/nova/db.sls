{%- from 'nova/map.jinja' import nova with context %}
{%- from 'lib/mariadb.jinja' import database with context %}
include:
  - mariadb
  - nova.config

{%- for name in ['nova_api', 'nova', 'nova_cell0'] %}
{{ database(name | replace('_', '-'), name, 'nova', nova.db_password) }}
{%- endfor %}

{#- nova-manage has no check: root asks the databases (schema version,
    cells) whether each step is needed; the steps run as nova. #}
{%- set as_nova = 'runuser -u ' ~ nova.user ~ ' -- nova-manage ' %}
{%- set steps = [
      ('api-db-sync', 'api_db sync', "test -n \"$(mariadb -N -e 'SELECT version_num FROM nova_api.alembic_version')\""),
      ('map-cell0', 'cell_v2 map_cell0', "mariadb -N -e \"SELECT name FROM nova_api.cell_mappings\" | grep -qx cell0"),
      ('create-cell1', 'cell_v2 create_cell --name=cell1', "mariadb -N -e \"SELECT name FROM nova_api.cell_mappings\" | grep -qx cell1"),
      ('db-sync', 'db sync', "test -n \"$(mariadb -N -e 'SELECT version_num FROM nova.alembic_version')\""
                             ~ " && test -n \"$(mariadb -N -e 'SELECT version_num FROM nova_cell0.alembic_version')\""),
    ] %}
{%- for id, command, done in steps %}

nova-{{ id }}:
  cmd.run:
    - name: {{ as_nova ~ command }}
    - unless: {{ done | json }}
    - require:
{%-   if loop.first %}
{%-     for db in ['nova-api', 'nova', 'nova-cell0'] %}
      - mysql_grants: {{ db }}-db-grants-local
      - mysql_grants: {{ db }}-db-grants-mgmt
{%-     endfor %}
      - file: nova-config
{%-   else %}
      - cmd: nova-{{ steps[loop.index0 - 1][0] }}
{%-   endif %}
{%- endfor %}
