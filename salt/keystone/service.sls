{%- from 'keystone/map.jinja' import keystone with context %}
include:
  - keystone.config
  - keystone.db

keystone-service:
  service.running:
    - name: {{ keystone.service }}
    - enable: true
    - require:
      - cmd: keystone-db-sync
      - cmd: keystone-fernet-setup
      - cmd: keystone-credential-setup
    - watch:
      - file: keystone-config
      - ini: keystone-uwsgi-config
