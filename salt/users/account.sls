{%- from 'users/map.jinja' import users with context %}
{%- from 'lib/lab.jinja' import lab with context %}

users-{{ users.name }}:
  user.present:
    - name: {{ users.name }}
    - shell: {{ users.shell }}
    - home: {{ users.home }}
    - createhome: true

{#- The key comes from the generated secrets (tools/secrets); without them
    the user exists but nobody logs in as it. #}
{%- if lab.get('ssh_public_key') %}

users-{{ users.name }}-authorized-keys:
  file.managed:
    - name: {{ users.home }}/.ssh/authorized_keys
    - source: salt://users/files/authorized_keys.jinja
    - template: jinja
    - user: {{ users.name }}
    - group: {{ users.name }}
    - mode: '0600'
    - dir_mode: '0700'
    - makedirs: true
    - require:
      - user: users-{{ users.name }}
{%- endif %}
