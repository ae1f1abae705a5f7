{%- from 'placement/map.jinja' import placement with context %}
include:
  - placement.config
  - placement.db

placement-service:
  service.running:
    - name: {{ placement.service }}
    - enable: true
    - require:
      - cmd: placement-db-sync
    - watch:
      - file: placement-config
      - ini: placement-uwsgi-config
