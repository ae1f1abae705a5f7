{#- The all-in-one lab host: the machine that runs a whole local lab (nspawn
    nodes, /dev/kvm for Nova's guests). Prepared first, then the lab. #}
include:
  - labhost.prepare
  - labhost.lab
