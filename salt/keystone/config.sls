{%- from 'keystone/map.jinja' import keystone with context %}
{%- from 'lib/openstack.jinja' import uwsgi_listen with context %}
{%- from 'openstack/map.jinja' import openstack with context %}
include:
  - keystone.install

keystone-config:
  file.managed:
    - name: {{ keystone.config }}
    - source: salt://keystone/files/keystone.conf.jinja
    - template: jinja
    - user: root
    - group: {{ keystone.group }}
    - mode: '0640'
    - show_changes: false
    - require:
      - pkg: keystone-pkgs

{{ uwsgi_listen('keystone', keystone.api, openstack.catalog.keystone.port, 'keystone-pkgs') }}

{#- The key repositories, made once; Keystone rotates nothing in the lab.
    As the keystone user, like every keystone-manage here: the first one
    run creates /var/log/keystone/keystone-manage.log, which all the later
    ones must be able to write. #}
{%- for kind, path in [('fernet', keystone.fernet_keys), ('credential', keystone.credential_keys)] %}

keystone-{{ kind }}-setup:
  cmd.run:
    - name: keystone-manage {{ kind }}_setup --keystone-user {{ keystone.user }} --keystone-group {{ keystone.group }}
    - runas: {{ keystone.user }}
    - creates: {{ path }}/0
    - require:
      - file: keystone-config
{%- endfor %}
