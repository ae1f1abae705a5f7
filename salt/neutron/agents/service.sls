{%- from 'neutron/map.jinja' import neutron with context %}
include:
  - neutron.agents.config

{%- for agent, settings in neutron.node_agents | dictsort %}

neutron-agent-{{ agent }}-service:
  service.running:
    - name: {{ settings.pkg }}
    - enable: true
    - watch:
      - file: neutron-agents-config
      - file: neutron-agent-{{ agent }}-config
{%- endfor %}
