{#- The health manager's port, plugged into br-int as o-hm0 (this node's
    Open vSwitch agent wires it into the management network), its address
    from systemd-networkd, so that it comes back after a reboot: the
    worker reaches the amphorae's agents from it, the health manager hears
    their heartbeats on it. #}
{%- from 'octavia/map.jinja' import octavia with context %}
{%- from 'lib/lab.jinja' import mtus with context %}
{%- set management = octavia.management %}
{%- set address = management.health_manager_address ~ '/' ~ management.cidr.split('/')[1] %}
include:
  - octavia.worker.resources
  - neutron.agents

octavia-health-manager-interface:
  openstack.port_plugged:
    - name: {{ management.interface }}
    - port: {{ management.port }}
    - network: {{ management.network }}
    - cloud: {{ octavia.worker.cloud }}
    - require:
      - openstack: octavia-health-manager-port
      - sls: neutron.agents

octavia-health-manager-address:
  file.managed:
    - name: /etc/systemd/network/50-saltlab-{{ management.interface }}.network
    - source: salt://extbridge/files/link.network.jinja
    - template: jinja
    - mode: '0644'
    - context:
        name: {{ management.interface }}
        address: {{ address }}
        mtu: {{ mtus.physnet }}

{#- networkd applies it whenever the interface lacks the address (after
    Open vSwitch made the interface, also after a run that failed here) #}
octavia-health-manager-reconfigure:
  cmd.run:
    - name: networkctl reload && networkctl reconfigure {{ management.interface }}
    - unless: ip -4 -o addr show dev {{ management.interface }} | grep -qF ' {{ address }} '
    - require:
      - openstack: octavia-health-manager-interface
      - file: octavia-health-manager-address
