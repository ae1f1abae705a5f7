{%- from 'rabbitmq/map.jinja' import rabbitmq with context %}
{%- from 'lib/systemd.jinja' import after_address with context %}
include:
  - rabbitmq.config
  - addresswait
{{ after_address('rabbitmq', rabbitmq.service, rabbitmq.address) }}

rabbitmq-service:
  service.running:
    - name: {{ rabbitmq.service }}
    - enable: true
    - watch:
      - file: rabbitmq-env-config
      - file: rabbitmq-after-address
