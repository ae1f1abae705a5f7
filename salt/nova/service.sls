{%- from 'nova/map.jinja' import nova with context %}
include:
  - nova.install
  - nova.config
  - nova.db

{%- for service in nova.services %}

nova-service-{{ service }}:
  service.running:
    - name: {{ service }}
    - enable: true
    - require:
      - cmd: nova-db-sync
    - watch:
      - file: nova-config
      - file: nova-consoleproxy-defaults
{%-   for path in nova.uwsgi_configs %}
      - ini: nova-uwsgi-config-{{ loop.index }}
{%-   endfor %}
{%- endfor %}
{%- for service in nova.unused_services %}

nova-service-{{ service }}-off:
  service.dead:
    - name: {{ service }}
    - enable: false
    - require:
      - pkg: nova-pkgs
{%- endfor %}
