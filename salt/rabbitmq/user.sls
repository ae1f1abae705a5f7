{%- from 'rabbitmq/map.jinja' import rabbitmq with context %}
{%- from 'lib/lab.jinja' import secret with context %}
include:
  - rabbitmq.service

rabbitmq-user:
  rabbitmq_user.present:
    - name: {{ rabbitmq.user }}
    - password: {{ secret('rabbitmq_openstack') | json }}
    - perms:
      - {{ rabbitmq.vhost | json }}:
        - '.*'
        - '.*'
        - '.*'
    - require:
      - service: rabbitmq-service

rabbitmq-guest-absent:
  rabbitmq_user.absent:
    - name: guest
    - require:
      - service: rabbitmq-service
