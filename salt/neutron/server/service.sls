{%- from 'neutron/map.jinja' import neutron with context %}
{%- from 'lib/systemd.jinja' import after_address with context %}
{%- from 'lib/lab.jinja' import lab with context %}
include:
  - neutron.server.config
  - neutron.server.db
  - addresswait
{%- for service in neutron.server_services %}
{{ after_address('neutron-' ~ service, service, lab.controller_address) }}
{%- endfor %}

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
      - file: neutron-listen
      - file: neutron-{{ service }}-after-address
{%- endfor %}
