{%- from 'placement/map.jinja' import placement with context %}
{%- from 'lib/openstack.jinja' import uwsgi_listen with context %}
{%- from 'openstack/map.jinja' import openstack with context %}
include:
  - placement.install

placement-config:
  file.managed:
    - name: {{ placement.config }}
    - source: salt://placement/files/placement.conf.jinja
    - template: jinja
    - user: root
    - group: {{ placement.group }}
    - mode: '0640'
    - show_changes: false
    - require:
      - pkg: placement-pkgs

{{ uwsgi_listen('placement', placement.api, openstack.catalog.placement.port, 'placement-pkgs') }}
