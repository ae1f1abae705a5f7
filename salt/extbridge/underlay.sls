{#- With the userspace datapath only: the underlay NIC in br-underlay, the
    node's underlay address (the model's) on br-underlay (systemd-networkd
    keeps both across reboots), so that Open vSwitch can route and send
    VXLAN itself. #}
{%- from 'extbridge/map.jinja' import extbridge with context %}
{%- from 'ovs/map.jinja' import ovs with context %}
{%- from 'lib/lab.jinja' import address, mtus, underlay as underlay_network with context %}
{%- if ovs.datapath_type == 'netdev' %}
{%-   set bridge_address = address(underlay_network.name, 'to carry VXLAN') ~ '/' ~ underlay_network.cidr.split('/')[1] %}
{%-   set underlay = extbridge.underlay %}
include:
  - ovs

extbridge-{{ underlay.bridge }}:
  ovs.bridge_present:
    - name: {{ underlay.bridge }}
    - datapath_type: {{ ovs.datapath_type }}
    - require:
      - sls: ovs

extbridge-{{ underlay.nic }}:
  ovs.port_present:
    - name: {{ underlay.nic }}
    - bridge: {{ underlay.bridge }}
    - require:
      - ovs: extbridge-{{ underlay.bridge }}

{#- The NIC keeps its place in the kernel's stack: it must not answer ARP
    for the address the bridge holds, or peers would send their VXLAN to a
    MAC that Open vSwitch does not take as its own. #}
extbridge-underlay-arp:
  sysctl.present:
    - name: net.ipv4.conf.{{ underlay.nic }}.arp_ignore
    - value: 1

extbridge-underlay-address:
  file.managed:
    - name: {{ underlay.network_file }}
    - source: salt://extbridge/files/link.network.jinja
    - template: jinja
    - mode: '0644'
    - context:
        name: {{ underlay.bridge }}
        address: {{ bridge_address }}
        mtu: {{ mtus.path }}
    - require:
      - ovs: extbridge-{{ underlay.nic }}

extbridge-underlay-nic:
  file.managed:
    - name: {{ underlay.nic_network_file }}
    - source: salt://extbridge/files/link.network.jinja
    - template: jinja
    - mode: '0644'
    - context:
        name: {{ underlay.nic }}
        address: null
        mtu: {{ mtus.path }}
    - require:
      - file: extbridge-underlay-address

{#- networkd applies both files (also after a run that failed before this
    point): whenever the address is not on the bridge alone, or an MTU is
    off. The NIC's old address goes when it is reconfigured. #}
extbridge-underlay-reconfigure:
  cmd.run:
    - name: networkctl reload && networkctl reconfigure {{ underlay.nic }} {{ underlay.bridge }}
    - unless: >-
        ip -4 -o addr show dev {{ underlay.bridge }} | grep -qF ' {{ bridge_address }} '
        && ! ip -4 -o addr show dev {{ underlay.nic }} | grep -q .
        && test "$(cat /sys/class/net/{{ underlay.bridge }}/mtu)" = {{ mtus.path }}
    - require:
      - sysctl: extbridge-underlay-arp
      - file: extbridge-underlay-address
      - file: extbridge-underlay-nic
{%- endif %}
