{%- from 'keystone/map.jinja' import keystone with context %}
{%- from 'lib/systemd.jinja' import after_address with context %}
{%- from 'lib/lab.jinja' import lab with context %}
include:
  - keystone.config
  - keystone.db
  - addresswait
{{ after_address('keystone', keystone.service, lab.controller_address) }}

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
      - file: keystone-listen
      - file: keystone-after-address
