{%- from 'mariadb/map.jinja' import mariadb with context %}
include:
  - mariadb.install

mariadb-config:
  file.managed:
    - name: {{ mariadb.config }}
    - source: salt://mariadb/files/server.cnf.jinja
    - template: jinja
    - mode: '0644'
    - require:
      - pkg: mariadb-pkgs
