{%- from 'nova/map.jinja' import nova with context %}
{%- from 'lib/openstack.jinja' import packages with context %}
include:
  - apt
  - openstack.debconf

{{ packages('nova-compute', {'debconf': {'nova-common': nova.debconf['nova-common']},
                             'pkgs': nova.compute.pkgs,
                             'install_recommends': nova.compute.install_recommends}) }}
