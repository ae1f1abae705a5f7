{#- /etc/hosts names every lab node by its management address. #}
include:
  - hosts.config
