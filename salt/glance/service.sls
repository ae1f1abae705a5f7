{%- from 'glance/map.jinja' import glance with context %}
{%- from 'lib/systemd.jinja' import after_address with context %}
{%- from 'lib/lab.jinja' import lab with context %}
include:
  - glance.config
  - glance.db
  - addresswait
{{ after_address('glance', glance.service, lab.controller_address) }}

glance-service:
  service.running:
    - name: {{ glance.service }}
    - enable: true
    - require:
      - cmd: glance-db-sync
      - file: glance-images-dir
    - watch:
      - file: glance-config
      - file: glance-after-address
