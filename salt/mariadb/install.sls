{%- from 'mariadb/map.jinja' import mariadb with context %}
include:
  - apt

mariadb-pkgs:
  pkg.installed:
    - pkgs: {{ mariadb.pkgs | json }}
    # Salt's mysql modules need python3-pymysql, installed here
    - reload_modules: true
    - require:
      - sls: apt
