{#- The lab host's public NIC lets in only SSH and ICMP: the lab is
    reached through SSH (see the README). #}
{%- from 'labhost/map.jinja' import labhost with context %}
{%- from 'lib/firewall/macros.jinja' import public with context %}
include:
  - apt
{{ public('labhost-firewall', labhost.public_interface, labhost.open_ports, 'only SSH and ICMP on the public NIC of the lab host') }}
