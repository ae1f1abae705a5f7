{#- Neutron's agents on the network and compute nodes (by their roles):
    Open vSwitch on both, L3, DHCP and metadata on the network node. #}
include:
  - neutron.agents.install
  - neutron.agents.config
  - neutron.agents.service
