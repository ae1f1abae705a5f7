{#- nova-compute on a compute node: libvirt with KVM or QEMU's emulator
    (nova:virt_type), ports wired by Neutron's Open vSwitch agent. The
    controller's nova-scheduler adds new compute nodes to cell1 by itself
    (nova:discover_hosts_interval). #}
include:
  - nova.compute.install
  - nova.compute.config
  - nova.compute.ready
  - nova.compute.service
