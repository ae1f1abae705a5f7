{%- from 'placement/map.jinja' import placement with context %}
{%- from 'lib/systemd.jinja' import after_address with context %}
{%- from 'lib/lab.jinja' import lab with context %}
include:
  - placement.config
  - placement.db
  - addresswait
{{ after_address('placement', placement.service, lab.controller_address) }}

placement-service:
  service.running:
    - name: {{ placement.service }}
    - enable: true
    - require:
      - cmd: placement-db-sync
    - watch:
      - file: placement-config
      - file: placement-listen
      - file: placement-after-address
