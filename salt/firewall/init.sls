{#- The public NIC of a node that has one (the model's public network)
    lets in only SSH, ICMP, what answers the node's own connections and
    the ports of what the node serves there: the TLS proxy's on the
    master. Every other NIC is left to the lab. #}
{%- from 'firewall/map.jinja' import firewall with context %}
{%- from 'lib/firewall/macros.jinja' import public with context %}
{%- if firewall.public_interface %}
include:
  - apt
{{ public('firewall-public', firewall.public_interface, firewall.ports, firewall.purpose) }}
{%- endif %}
