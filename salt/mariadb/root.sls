{#- root@localhost gets the generated password (pillar
    saltlab:secrets:mariadb_root); root's mariadb CLI reads it from
    /root/.my.cnf. #}
{%- from 'mariadb/map.jinja' import mariadb with context %}
{%- from 'lib/mariadb.jinja' import connection_args with context %}
include:
  - mariadb.service

mariadb-root-password:
  mysql_user.present:
    - name: root
    - host: localhost
    - password: {{ mariadb.connection.connection_pass | json }}
    {{- connection_args() }}
    - require:
      - service: mariadb-service

mariadb-root-client-config:
  file.managed:
    - name: {{ mariadb.root_client_config }}
    - mode: '0600'
    - contents: |
        # Managed by Salt (saltlab mariadb formula): do not edit.
        [client]
        user = root
        password = {{ mariadb.connection.connection_pass }}
        socket = {{ mariadb.socket }}
    - show_changes: false
