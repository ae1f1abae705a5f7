{%- from 'cinder/map.jinja' import cinder with context %}
{%- from 'lib/openstack.jinja' import uwsgi_listen with context %}
{%- from 'openstack/map.jinja' import openstack with context %}
include:
  - cinder.install

cinder-config:
  file.managed:
    - name: {{ cinder.config }}
    - source: salt://cinder/files/cinder.conf.jinja
    - template: jinja
    - user: root
    - group: {{ cinder.group }}
    - mode: '0640'
    - show_changes: false
    - require:
      - pkg: cinder-pkgs

{{ uwsgi_listen('cinder', cinder.api, openstack.catalog.cinder.port, 'cinder-pkgs') }}
