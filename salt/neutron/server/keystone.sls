{%- from 'neutron/map.jinja' import neutron with context %}
{%- from 'openstack/macros.jinja' import keystone_registration with context %}
include:
  - keystone

{{ keystone_registration('neutron', neutron.service_password) }}
