{#- The public NIC of the network node lets in only SSH, ICMP and the
    proxy's ports. #}
{%- from 'proxy/map.jinja' import proxy with context %}
{%- from 'lib/firewall/macros.jinja' import public with context %}
include:
  - apt
{{ public('proxy-firewall', proxy.public_interface, proxy.open_ports + proxy.ports.keys() | list,
          'only SSH, ICMP and the TLS proxy on the public NIC') }}
