{%- from 'neutron/map.jinja' import neutron with context %}
{%- from 'lib/openstack.jinja' import keystone_registration with context %}
include:
  - keystone

{{ keystone_registration('neutron', neutron.service_password) }}
