{#- The install user `stack` (passwordless sudo), reached with the key the
    operator reaches root with. #}
{%- from 'users/map.jinja' import users with context %}
include:
  - users

labhost-{{ users.name }}-authorized-keys:
  file.managed:
    - name: {{ users.home }}/.ssh/authorized_keys
    - source: /root/.ssh/authorized_keys
    - user: {{ users.name }}
    - group: {{ users.name }}
    - mode: '0600'
    - dir_mode: '0700'
    - makedirs: true
    - require:
      - user: users-{{ users.name }}
