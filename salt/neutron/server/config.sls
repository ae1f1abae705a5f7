{%- from 'neutron/map.jinja' import neutron with context %}
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

{#- Debian's uwsgi settings, with fewer processes: the lab is small. #}
neutron-uwsgi-config:
  ini.options_present:
    - name: {{ neutron.uwsgi_config }}
    - sections:
        uwsgi:
          processes: {{ openstack.api_processes }}
    - require:
      - pkg: neutron-pkgs
