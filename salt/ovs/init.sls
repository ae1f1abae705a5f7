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
