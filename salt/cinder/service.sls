{%- from 'cinder/map.jinja' import cinder with context %}
{%- from 'lib/systemd.jinja' import after_address with context %}
{%- from 'lib/lab.jinja' import lab with context %}
include:
  - cinder.config
  - cinder.db
  - addresswait

{#- after the management address: the API listens there, the scheduler
    reaches MariaDB and RabbitMQ there #}
{%- for service in cinder.services %}
{{ after_address('cinder-' ~ service, service, lab.controller_address) }}

cinder-service-{{ service }}:
  service.running:
    - name: {{ service }}
    - enable: true
    - require:
      - cmd: cinder-db-sync
    - watch:
      - file: cinder-config
      - file: cinder-{{ service }}-after-address
{%-   if service == cinder.api.daemon %}
      - file: cinder-listen
{%-   endif %}
{%- endfor %}
