{#- In a lab with Octavia: the demo user's HTTP load balancer, its address
    on the external network (the network node reaches it there), a
    listener on port 80, a round-robin pool of the demo servers at their
    addresses on the demo subnet (the test guest answers HTTP with its
    name), and an HTTP health monitor. #}
{%- from 'demo/map.jinja' import demo with context %}
{%- if demo.load_balancing %}
{%-   set lb = demo.load_balancer %}
include:
  - demo.admin
  - demo.servers

demo-lb:
  openstack.load_balancer_present:
    - name: {{ lb.name }}
    - vip_network: {{ demo.external.network }}
    - timeout: {{ lb.wait }}
    - cloud: {{ demo.demo_cloud }}
    - require:
      - openstack: demo-external-subnet

demo-lb-listener:
  openstack.listener_present:
    - name: {{ lb.listener }}
    - load_balancer: {{ lb.name }}
    - protocol: HTTP
    - protocol_port: {{ lb.port }}
    - cloud: {{ demo.demo_cloud }}
    - require:
      - openstack: demo-lb

demo-lb-pool:
  openstack.pool_present:
    - name: {{ lb.pool }}
    - load_balancer: {{ lb.name }}
    - listener: {{ lb.listener }}
    - protocol: HTTP
    - lb_algorithm: {{ lb.algorithm }}
    - cloud: {{ demo.demo_cloud }}
    - require:
      - openstack: demo-lb-listener
{%-   for server in demo.servers %}

demo-lb-member-{{ server }}:
  openstack.server_member_present:
    - name: {{ server }}
    - pool: {{ lb.pool }}
    - server: {{ server }}
    - subnet: {{ demo.network.subnet }}
    - protocol_port: {{ lb.port }}
    - cloud: {{ demo.demo_cloud }}
    - require:
      - openstack: demo-lb-pool
      - openstack: demo-server-{{ server }}
{%-   endfor %}

demo-lb-monitor:
  openstack.health_monitor_present:
    - name: {{ lb.monitor.name }}
    - pool: {{ lb.pool }}
    - type: HTTP
    - delay: {{ lb.monitor.delay }}
    - timeout: {{ lb.monitor.timeout }}
    - max_retries: {{ lb.monitor.max_retries }}
    - url_path: {{ lb.monitor.url_path }}
    - cloud: {{ demo.demo_cloud }}
    - require:
      - openstack: demo-lb-pool
{%- endif %}
