{#- The VXLAN external bridge: the flat provider network `physnet` that
    Neutron sees, carried over the underlay between the network node and
    the compute nodes; the network node is its gateway and NAT. #}
include:
  - extbridge.underlay
  - extbridge.bridges
  - extbridge.gateway
