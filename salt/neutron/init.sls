{#- Neutron: the server on the controller (the `neutron` service of a lab
    is its server; the agents belong to the network and compute nodes). #}
include:
  - neutron.server
