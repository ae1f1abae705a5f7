# The whole control plane: identity, images, placement, compute and
# networking services, block storage (Cinder, volumes in Ceph on the
# storage node), and the dashboard.
saltlab:
  services:
    - keystone
    - glance
    - placement
    - nova
    - neutron
    - cinder
    - horizon
