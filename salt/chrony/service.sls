{%- from 'chrony/map.jinja' import chrony with context %}
include:
  - chrony.config

chrony-service:
  service.running:
    - name: {{ chrony.service }}
    - enable: true
    - watch:
      - file: chrony-defaults
      - file: chrony-config
{%- if not chrony.control_clock %}
      - file: chrony-container
{%- endif %}
