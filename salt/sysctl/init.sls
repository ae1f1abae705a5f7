{#- Kernel parameters of the lab (pillar saltlab:sysctl). #}
include:
  - sysctl.config
