# The whole control plane: identity, images, placement, compute and
# networking services, and the dashboard.
saltlab:
  services:
    - keystone
    - glance
    - placement
    - nova
    - neutron
    - horizon
