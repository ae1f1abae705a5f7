{%- from 'nova/map.jinja' import nova with context %}
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
{%- for path in nova.uwsgi_configs %}

{#- Debian's uwsgi settings, with fewer processes: the lab is small. #}
nova-uwsgi-config-{{ loop.index }}:
  ini.options_present:
    - name: {{ path }}
    - sections:
        uwsgi:
          processes: {{ openstack.api_processes }}
    - require:
      - pkg: nova-pkgs
{%- endfor %}


nova-consoleproxy-defaults:
  file.keyvalue:
    - name: {{ nova.consoleproxy_defaults }}
    - key_values: {{ nova.consoleproxy | json }}
    - separator: '='
    - require:
      - pkg: nova-pkgs
