{%- from 'nova/map.jinja' import nova with context %}
{%- from 'lib/openstack.jinja' import uwsgi_listen with context %}
{%- from 'openstack/map.jinja' import openstack with context %}
include:
  - nova.install

nova-config:
  file.managed:
    - name: {{ nova.config }}
    - source: salt://nova/files/nova.conf.jinja
    - template: jinja
    - user: root
    - group: {{ nova.group }}
    - mode: '0640'
    - show_changes: false
    - require:
      - pkg: nova-pkgs
{%- for name, api in nova.apis | dictsort %}
{{ uwsgi_listen('nova-' ~ name, api, api.get('port', openstack.catalog.nova.port), 'nova-pkgs') }}
{%- endfor %}


nova-consoleproxy-defaults:
  file.keyvalue:
    - name: {{ nova.consoleproxy_defaults }}
    - key_values: {{ nova.consoleproxy | json }}
    - separator: '='
    - require:
      - pkg: nova-pkgs
