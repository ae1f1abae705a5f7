# Identity only: MariaDB, RabbitMQ, memcached, Keystone and the TLS proxy.
saltlab:
  services:
    - keystone
