{#- nova-compute on a compute node: libvirt with KVM or QEMU's emulator
    (nova:virt_type), ports wired by Neutron's Open vSwitch agent. The
    controller's nova-scheduler adds new compute nodes to cell1 by itself
    (nova:discover_hosts_interval). #}
{%- from 'nova/map.jinja' import nova with context %}
include:
  - nova.compute.install
  - nova.compute.config
  - nova.compute.ready
  - nova.compute.taps
  - nova.compute.service
{%- if nova.rbd is defined %}
  - nova.compute.volumes
{%- endif %}
