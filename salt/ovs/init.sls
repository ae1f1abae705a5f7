{#- Open vSwitch: the switch daemons, for the bridges of the extbridge
    formula and Neutron's OVS agent (custom modules _modules/ovs.py and
    _states/ovs.py drive it). #}
{%- from 'ovs/map.jinja' import ovs with context %}
include:
  - apt

ovs-pkg:
  pkg.installed:
    - name: {{ ovs.pkg }}
    - require:
      - sls: apt

ovs-service:
  service.running:
    - name: {{ ovs.service }}
    - enable: true
    - require:
      - pkg: ovs-pkg
{%- if ovs.datapath_type == 'netdev' %}

ovs-switch-config:
  ovs.switch_configured:
    - name: userspace datapath
    - other_config: {{ ovs.netdev_other_config | json }}
    - require:
      - service: ovs-service

{#- a restart when that changes (ovs-vswitchd reads it at start) #}
ovs-service-restart:
  service.running:
    - name: {{ ovs.service }}
    - watch:
      - ovs: ovs-switch-config
{%- endif %}
