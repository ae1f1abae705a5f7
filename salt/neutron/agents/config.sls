{%- from 'neutron/map.jinja' import neutron with context %}
{%- from 'lab/map.jinja' import lab with context %}
{%- set addresses = salt['network.ip_addrs'](cidr=lab.networks.underlay.cidr) %}
include:
  - neutron.agents.install
{%- if not addresses %}

neutron-agents-underlay-missing:
  test.fail_without_changes:
    - name: this node has no address in saltlab:networks:underlay:cidr {{ lab.networks.underlay.cidr }}, so no underlay for the tenant VXLAN tunnels
{%- endif %}

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
        local_ip: {{ addresses[0] if addresses else none }}
    - require:
      - pkg: neutron-agents-pkgs
{%-   if not addresses %}
      - test: neutron-agents-underlay-missing
{%-   endif %}
{%- endfor %}
