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

{#- Glance's metadata definitions (the namespaces and resource types of the
    metadefs API and Horizon's image metadata, shipped by the package in
    /etc/glance/metadefs): loaded when the database has none. #}
glance-db-load-metadefs:
  cmd.run:
    - name: su -s /bin/sh -c 'glance-manage db_load_metadefs' {{ glance.user }}
    - unless: test "$(mysql -N -B -e 'SELECT COUNT(*) FROM metadef_namespaces' glance)" -gt 0
    - require:
      - cmd: glance-db-sync
