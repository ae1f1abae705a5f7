{#- RabbitMQ: the OpenStack services' message bus, one user for them all. #}
include:
  - rabbitmq.install
  - rabbitmq.config
  - rabbitmq.service
  - rabbitmq.user
