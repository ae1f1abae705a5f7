{%- from 'glance/map.jinja' import glance with context %}
include:
  - glance.config
  - glance.db

glance-service:
  service.running:
    - name: {{ glance.service }}
    - enable: true
    - require:
      - cmd: glance-db-sync
      - file: glance-images-dir
    - watch:
      - file: glance-config
      - ini: glance-uwsgi-config
