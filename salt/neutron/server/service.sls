{%- from 'neutron/map.jinja' import neutron with context %}
include:
  - neutron.server.config
  - neutron.server.db

{%- for service in neutron.server_services %}

neutron-service-{{ service }}:
  service.running:
    - name: {{ service }}
    - enable: true
    - require:
      - cmd: neutron-db-sync
    - watch:
      - file: neutron-config
      - file: neutron-ml2-config
      - ini: neutron-uwsgi-config
{%- endfor %}
