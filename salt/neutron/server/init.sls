{#- Neutron's server on the controller: API, RPC server and periodic
    workers, ML2 with a flat `physnet`, VXLAN tenant networks and Open
    vSwitch, routers. #}
include:
  - neutron.server.install
  - neutron.server.config
  - neutron.server.db
  - neutron.server.keystone
  - neutron.server.service
