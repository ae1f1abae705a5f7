{#- br-ext with a VXLAN port per peer (peers come from the mine: a node
    added to the map gets its port on the next highstate, a destroyed one
    loses it), patched to br-phys, which Neutron's OVS agent maps as
    physnet. #}
{%- from 'extbridge/map.jinja' import extbridge with context %}
{%- from 'ovs/map.jinja' import ovs with context %}
include:
  - ovs
  - extbridge.underlay

{%- for bridge in [extbridge.bridge, extbridge.physnet_bridge] %}

extbridge-{{ bridge }}:
  ovs.bridge_present:
    - name: {{ bridge }}
    - datapath_type: {{ ovs.datapath_type }}
    - require:
      - sls: ovs
{%- endfor %}

{%- for port, bridge, peer in [(extbridge.patch_port, extbridge.bridge, extbridge.physnet_patch_port),
                               (extbridge.physnet_patch_port, extbridge.physnet_bridge, extbridge.patch_port)] %}

extbridge-{{ port }}:
  ovs.port_present:
    - name: {{ port }}
    - bridge: {{ bridge }}
    - type: patch
    - options: {peer: {{ peer }}}
    - require:
      - ovs: extbridge-{{ bridge }}
{%- endfor %}

{%- set wanted = [] %}
{%- for minion, address in extbridge.peers | dictsort %}
{%-   set port = extbridge.port_prefix ~ minion %}
{%-   do wanted.append(port) %}

extbridge-{{ port }}:
  ovs.port_present:
    - name: {{ port }}
    - bridge: {{ extbridge.bridge }}
    - type: vxlan
    - options:
        remote_ip: {{ address }}
        key: {{ extbridge.vni }}
    - require:
      - ovs: extbridge-{{ extbridge.bridge }}
{%-   if ovs.datapath_type == 'netdev' %}
      - sls: extbridge.underlay
{%-   endif %}
{%- endfor %}

{#- VXLAN ports to peers that are gone (read when the state runs) #}

extbridge-stale-ports:
  ovs.ports_pruned:
    - bridge: {{ extbridge.bridge }}
    - prefix: {{ extbridge.port_prefix }}
    - keep: {{ wanted | json }}
    - require:
      - ovs: extbridge-{{ extbridge.bridge }}
