{%- from 'octavia/map.jinja' import octavia with context %}
{%- from 'lib/systemd.jinja' import after_address with context %}
{%- from 'lib/lab.jinja' import lab with context %}
include:
  - octavia.config
  - octavia.db
  - addresswait

{#- after the management address: the API listens there #}
{{ after_address('octavia-api', octavia.api.daemon, lab.controller_address) }}

octavia-service-api:
  service.running:
    - name: {{ octavia.api.daemon }}
    - enable: true
    - require:
      - cmd: octavia-db-sync
    - watch:
      - file: octavia-config
      - file: octavia-api-after-address
      - file: octavia-listen
