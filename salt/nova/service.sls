{%- from 'nova/map.jinja' import nova with context %}
include:
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
{%-   for path in nova.uwsgi_configs %}
      - ini: nova-uwsgi-config-{{ loop.index }}
{%-   endfor %}
{%- endfor %}
