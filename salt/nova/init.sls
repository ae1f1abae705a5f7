{#- Nova's controller services: API (and metadata API), conductor,
    scheduler, the noVNC proxy; the API, cell0 and cell1 databases. #}
include:
  - nova.install
  - nova.config
  - nova.db
  - nova.keystone
  - nova.service
