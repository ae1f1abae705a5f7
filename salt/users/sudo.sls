{%- from 'users/map.jinja' import users with context %}
include:
  - users.install
  - users.account

users-{{ users.name }}-sudoers:
  file.managed:
    - name: {{ users.sudoers_dir }}/{{ users.name }}
    - source: salt://users/files/sudoers.jinja
    - template: jinja
    - user: root
    - group: root
    - mode: '0440'
    {#- a broken sudoers file locks sudo: the candidate is checked first #}
    - check_cmd: /usr/sbin/visudo -cf
    - require:
      - pkg: users-sudo-pkg
      - user: users-{{ users.name }}
