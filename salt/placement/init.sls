{#- Placement: the inventory of resources Nova schedules on. #}
include:
  - placement.install
  - placement.config
  - placement.db
  - placement.keystone
  - placement.service
