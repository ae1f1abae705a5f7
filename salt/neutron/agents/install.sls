{%- from 'neutron/map.jinja' import neutron with context %}
{%- from 'lib/openstack.jinja' import packages with context %}
include:
  - apt
  - openstack.debconf
  - extbridge

{{ packages('neutron-agents', {'debconf': {'neutron-common': neutron.debconf['neutron-common']},
                               'pkgs': neutron.node_agents.values() | map(attribute='pkg') | list}) }}
