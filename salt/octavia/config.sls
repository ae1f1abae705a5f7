{%- from 'octavia/map.jinja' import octavia with context %}
{%- from 'lib/openstack.jinja' import uwsgi_listen with context %}
{%- from 'openstack/map.jinja' import openstack with context %}
include:
  - octavia.install

octavia-config:
  file.managed:
    - name: {{ octavia.config }}
    - source: salt://octavia/files/octavia.conf.jinja
    - template: jinja
    - user: root
    - group: {{ octavia.group }}
    - mode: '0640'
    - show_changes: false
    - require:
      - pkg: octavia-pkgs

{{ uwsgi_listen('octavia', octavia.api, openstack.catalog.octavia.port, 'octavia-pkgs') }}
