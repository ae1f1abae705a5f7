{%- from 'neutron/map.jinja' import neutron with context %}
{%- from 'lib/openstack.jinja' import packages with context %}
include:
  - apt
  - openstack.debconf

{{ packages('neutron', {'debconf': neutron.debconf, 'pkgs': neutron.server_pkgs}) }}
