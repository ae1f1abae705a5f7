{%- from 'users/map.jinja' import users with context %}
include:
  - apt

users-sudo-pkg:
  pkg.installed:
    - name: {{ users.sudo_pkg }}
    - require:
      - sls: apt
