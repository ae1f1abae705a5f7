{%- from 'neutron/map.jinja' import neutron with context %}
{%- from 'openstack/map.jinja' import openstack with context %}
include:
  - neutron.agents.config

{#- after neutron-server: an agent started before it answers loses its
    first calls and backs them off for minutes (2 and then 4), and a
    network made meanwhile gets no DHCP agent. On a first highstate of
    every node at once the controller is still installing. #}
neutron-agents-server-up:
  ready.api_answers:
    - name: {{ openstack.catalog.neutron.url }}/
    - timeout: {{ neutron.server_wait }}

{%- for agent, settings in neutron.node_agents | dictsort %}

neutron-agent-{{ agent }}-service:
  service.running:
    - name: {{ settings.pkg }}
    - enable: true
    - require:
      - ready: neutron-agents-server-up
    - watch:
      - file: neutron-agents-config
      - file: neutron-agent-{{ agent }}-config
{%- endfor %}
