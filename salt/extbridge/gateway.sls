{#- On the network node: the external network's gateway address on br-ext
    (systemd-networkd, so it comes back after a reboot), and its NAT out of
    the public NIC, letting back in only what answers it. Nothing on the
    other nodes: their br-ext is a switch. #}
{%- from 'extbridge/map.jinja' import extbridge with context %}
{%- if extbridge.hub %}
{%-   from 'lib/firewall/macros.jinja' import table with context %}
include:
  - apt
  - extbridge.bridges
{%-   set gateway = extbridge.external.gateway ~ '/' ~ extbridge.external.cidr.split('/')[1] %}

extbridge-gateway-address:
  file.managed:
    - name: {{ extbridge.network_file }}
    - source: salt://extbridge/files/link.network.jinja
    - template: jinja
    - mode: '0644'
    - context:
        name: {{ extbridge.bridge }}
        address: {{ gateway }}
        mtu: {{ extbridge.mtu }}

{#- networkd applies it (also after a run that failed before this point):
    whenever the bridge lacks the address or the MTU #}
extbridge-gateway-reconfigure:
  cmd.run:
    - name: networkctl reload && networkctl reconfigure {{ extbridge.bridge }}
    - unless: >-
        ip -4 -o addr show dev {{ extbridge.bridge }} | grep -qF ' {{ gateway }} '
        && test "$(cat /sys/class/net/{{ extbridge.bridge }}/mtu)" = {{ extbridge.mtu }}
    - require:
      - ovs: extbridge-{{ extbridge.bridge }}
      - file: extbridge-gateway-address

{{ table('extbridge-nat', extbridge.nat.name, extbridge.nat.table, 'ip', 'nat',
         {'bridge': extbridge.bridge, 'cidr': extbridge.external.cidr, 'interface': extbridge.public_interface},
         'NAT of the external network out of the public NIC') }}
{%- endif %}
