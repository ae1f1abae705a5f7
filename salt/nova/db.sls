{%- from 'nova/map.jinja' import nova with context %}
{%- from 'lib/mariadb.jinja' import database with context %}
include:
  - mariadb
  - nova.config

{%- for name in ['nova_api', 'nova', 'nova_cell0'] %}
{{ database(name | replace('_', '-'), name, 'nova', nova.db_password) }}
{%- endfor %}

{#- nova-manage has no check: the schemas' versions are compared with the
    installed code's migration heads, the cells are looked up in the API
    database; the steps run as nova. #}
{%- set as_nova = 'runuser -u ' ~ nova.user ~ ' -- nova-manage ' %}
{%- set cell = "mariadb -N -e 'SELECT name FROM nova_api.cell_mappings' | grep -qx " %}
{%- set steps = [
      ('api-db-sync', 'api_db sync', {'fun': 'saltlab.schema_current', 'databases': 'nova_api',
                                      'migrations': nova.migrations.api}),
      ('map-cell0', 'cell_v2 map_cell0', cell ~ 'cell0'),
      ('create-cell1', 'cell_v2 create_cell --name=cell1', cell ~ 'cell1'),
      ('db-sync', 'db sync', {'fun': 'saltlab.schema_current', 'databases': ['nova', 'nova_cell0'],
                              'migrations': nova.migrations.main}),
    ] %}
{%- for id, command, done in steps %}

nova-{{ id }}:
  cmd.run:
    - name: {{ as_nova ~ command }}
    - unless: {{ ([done] if done is mapping else done) | json }}
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
