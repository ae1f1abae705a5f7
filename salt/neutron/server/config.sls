{%- from 'neutron/map.jinja' import neutron with context %}
{%- from 'lib/openstack.jinja' import uwsgi_listen with context %}
{%- from 'openstack/map.jinja' import openstack with context %}
include:
  - neutron.server.install

{%- for id, path, source in [('neutron-config', neutron.config, 'neutron.conf.jinja'),
                             ('neutron-ml2-config', neutron.ml2_config, 'ml2_conf.ini.jinja')] %}

{{ id }}:
  file.managed:
    - name: {{ path }}
    - source: salt://neutron/files/{{ source }}
    - template: jinja
    - user: root
    - group: {{ neutron.group }}
    - mode: '0640'
    - show_changes: false
    - require:
      - pkg: neutron-pkgs
{%- endfor %}

{{ uwsgi_listen('neutron', neutron.api, openstack.catalog.neutron.port, 'neutron-pkgs') }}
