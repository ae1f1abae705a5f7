{#- The lab's OpenStack services on the network and compute nodes: the
    Neutron agents when the lab has Neutron, nova-compute on compute nodes
    when it has Nova, Octavia's worker on the network node when it has
    Octavia (pillar saltlab:services, checked by map.jinja). #}
{%- from 'openstack/map.jinja' import openstack with context %}
{%- from 'lib/lab.jinja' import roles with context %}
include:
  - extbridge
{%- if 'neutron' in openstack.services %}
  - neutron.agents
{%- endif %}
{%- if 'nova' in openstack.services and 'compute' in roles %}
  - nova.compute
{%- endif %}
{%- if 'octavia' in openstack.services and 'network' in roles %}
  - octavia.worker
{%- endif %}
