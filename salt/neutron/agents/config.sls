{%- from 'neutron/map.jinja' import neutron with context %}
{%- from 'lib/lab.jinja' import address, underlay with context %}
{%- set local_ip = address(underlay.name, 'for the tenant VXLAN tunnels') %}
include:
  - neutron.agents.install

neutron-agents-config:
  file.managed:
    - name: {{ neutron.config }}
    - source: salt://neutron/files/neutron.conf.jinja
    - template: jinja
    - user: root
    - group: {{ neutron.group }}
    - mode: '0640'
    - show_changes: false
    - require:
      - pkg: neutron-agents-pkgs
{%- for agent, settings in neutron.node_agents | dictsort %}

neutron-agent-{{ agent }}-config:
  file.managed:
    - name: {{ settings.config }}
    - source: salt://neutron/files/{{ agent }}_agent.ini.jinja
    - template: jinja
    - user: root
    - group: {{ neutron.group }}
    - mode: '0640'
    - show_changes: false
    - context:
        local_ip: {{ local_ip }}
    - require:
      - pkg: neutron-agents-pkgs
{%- endfor %}
