{%- from 'rabbitmq/map.jinja' import rabbitmq with context %}
include:
  - rabbitmq.install

rabbitmq-env-config:
  file.managed:
    - name: {{ rabbitmq.env_config }}
    - source: salt://rabbitmq/files/rabbitmq-env.conf.jinja
    - template: jinja
    - mode: '0644'
    - require:
      - pkg: rabbitmq-pkg
