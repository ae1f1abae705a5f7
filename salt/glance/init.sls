{#- Glance, the image service, storing images in files on the controller. #}
include:
  - glance.install
  - glance.config
  - glance.db
  - glance.keystone
  - glance.service
