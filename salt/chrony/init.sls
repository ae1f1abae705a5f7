{#- Time: the controller serves the management network, the others follow it. #}
include:
  - chrony.install
  - chrony.config
  - chrony.service
