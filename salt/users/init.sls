{#- The install user: passwordless sudo, the lab SSH key. #}
{%- from 'users/map.jinja' import users with context %}
{%- from 'lab/map.jinja' import lab with context %}
{%- set user = users.install_user %}

users-{{ user }}:
  user.present:
    - name: {{ user }}
    - shell: {{ users.shell }}
    - createhome: True

users-{{ user }}-sudo:
  file.managed:
    - name: /etc/sudoers.d/{{ user }}
    - contents: "{{ user }} ALL=(ALL:ALL) NOPASSWD: ALL"
    - mode: '0440'
    - check_cmd: /usr/sbin/visudo -cf
    - require:
      - user: users-{{ user }}

{%- if lab.get("ssh_public_key") %}
users-{{ user }}-ssh-key:
  ssh_auth.present:
    - user: {{ user }}
    - name: {{ lab.ssh_public_key }}
    - require:
      - user: users-{{ user }}
{%- endif %}
