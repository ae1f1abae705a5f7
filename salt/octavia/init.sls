{#- Octavia's API (under uwsgi) on the controller; the worker, health
    manager and housekeeping are octavia.worker, on the network node. #}
include:
  - octavia.install
  - octavia.config
  - octavia.db
  - octavia.keystone
  - octavia.service
