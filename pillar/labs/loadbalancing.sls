# `full` and load balancing: Octavia's API on the controller; its worker,
# health manager and housekeeping on the network node, which boot
# amphorae (service VMs with haproxy, tools/build-amphora-image) on the
# compute nodes, in the SINGLE topology (one amphora per load balancer).
# Build the amphora image before `tools/push` (README, "Load balancing").
saltlab:
  services:
    - keystone
    - glance
    - placement
    - nova
    - neutron
    - cinder
    - horizon
    - octavia
