{%- from 'cinder/map.jinja' import cinder with context %}
{%- from 'lib/openstack.jinja' import packages with context %}
include:
  - apt
  - openstack.debconf

{{ packages('cinder-volume', {'debconf': {'cinder-common': cinder.debconf['cinder-common']},
                              'pkgs': cinder.volume.pkgs,
                              'install_recommends': cinder.volume.install_recommends}) }}
