{#- Cinder's API (under uwsgi) and scheduler on the controller; the volume
    service is cinder.volume, on the storage node. #}
include:
  - cinder.install
  - cinder.config
  - cinder.db
  - cinder.keystone
  - cinder.service
