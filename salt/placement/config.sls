{%- from 'placement/map.jinja' import placement with context %}
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

{#- Debian's uwsgi settings, with fewer processes: the lab is small. #}
placement-uwsgi-config:
  ini.options_present:
    - name: {{ placement.uwsgi_config }}
    - sections:
        uwsgi:
          processes: {{ openstack.api_processes }}
    - require:
      - pkg: placement-pkgs
