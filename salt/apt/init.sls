{#- How this node gets packages: the controller fetches directly (and runs
    the cache, apt.cache, assigned in top.sls); every other lab node goes
    through the controller's cache, its only way to the mirror. A lab host
    fetches directly too. And how fast dpkg installs them (apt.dpkg). Every
    pkg state of the tree requires `sls: apt`. #}
include:
  - apt.proxy
  - apt.dpkg
