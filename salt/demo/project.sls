{#- The demo user's network: a VXLAN tenant network behind a router to
    the external network, the default security group opened for ICMP,
    SSH and the test image's ports, and the lab's SSH key as keypair. #}
{%- from 'demo/map.jinja' import demo with context %}
include:
  - demo.admin

{#- a highstate has just started them: agents that started before
    neutron-server answered are still backing off their first calls #}
demo-network-agents-ready:
  ready.network_agents:
    - name: {{ demo.network_node }}
    - agent_types: {{ demo.network_agents | json }}
    - cloud: {{ demo.admin_cloud }}

demo-network:
  openstack.network_present:
    - name: {{ demo.network.name }}
    - cloud: {{ demo.demo_cloud }}
    - require:
      - ready: demo-network-agents-ready

demo-subnet:
  openstack.subnet_present:
    - name: {{ demo.network.subnet }}
    - network: {{ demo.network.name }}
    - cidr: {{ demo.network.cidr }}
    - dns_nameservers: {{ demo.network.dns_nameservers | json }}
    - cloud: {{ demo.demo_cloud }}
    - require:
      - openstack: demo-network

demo-router:
  openstack.router_present:
    - name: {{ demo.router }}
    - external_network: {{ demo.external.network }}
    - interfaces:
      - {{ demo.network.subnet }}
    - cloud: {{ demo.demo_cloud }}
    - require:
      - openstack: demo-subnet
      - openstack: demo-external-subnet
{%- for label, rule in demo.security_group_rules | dictsort %}

demo-security-group-{{ label }}:
  openstack.security_group_rule_present:
    - name: {{ label }}
    - security_group: default
    - remote_ip_prefix: 0.0.0.0/0
{%-   for key, value in rule | dictsort %}
    - {{ key }}: {{ value }}
{%-   endfor %}
    - cloud: {{ demo.demo_cloud }}
{%- endfor %}

demo-keypair:
  openstack.keypair_present:
    - name: {{ demo.keypair }}
    - public_key: {{ demo.public_key | json }}
    - cloud: {{ demo.demo_cloud }}
