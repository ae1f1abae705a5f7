{#- Two servers of the demo user on its network, each on another compute
    node (an anti-affinity server group), each with a floating IP; in a
    lab with Cinder, one of them boots from a volume. #}
{%- from 'demo/map.jinja' import demo with context %}
include:
  - demo.admin
  - demo.project

{#- a highstate has just started the agents: Neutron binds a port only on
    a host whose Open vSwitch agent has reported alive #}
demo-compute-ready:
  ready.compute_hosts:
    - name: one compute host per demo server
    - minimum: {{ demo.servers | length }}
    - cloud: {{ demo.admin_cloud }}

demo-server-group:
  openstack.server_group_present:
    - name: {{ demo.server_group }}
    - policy: anti-affinity
    - cloud: {{ demo.demo_cloud }}
{%- if demo.volumes %}

{#- made from the test image: Cinder marks it bootable #}
demo-boot-volume:
  openstack.volume_present:
    - name: {{ demo.boot_volume.name }}
    - size: {{ demo.boot_volume.size }}
    - image: {{ demo.image.name }}
    - cloud: {{ demo.demo_cloud }}
    - require:
      - openstack: demo-image
{%- endif %}
{%- for server in demo.servers %}
{%-   set from_volume = demo.volumes and server == demo.boot_volume.server %}

demo-server-{{ server }}:
  openstack.server_present:
    - name: {{ server }}
{%-   if from_volume %}
    - boot_volume: {{ demo.boot_volume.name }}
{%-   else %}
    - image: {{ demo.image.name }}
{%-   endif %}
    - flavor: {{ demo.flavor.name }}
    - network: {{ demo.network.name }}
    - key_name: {{ demo.keypair }}
    - server_group: {{ demo.server_group }}
    - cloud: {{ demo.demo_cloud }}
    - require:
      - openstack: demo-image
      - openstack: demo-flavor
      - openstack: demo-subnet
      - openstack: demo-keypair
      - openstack: demo-server-group
      - ready: demo-compute-ready
{%-   if from_volume %}
      - openstack: demo-boot-volume
{%-   endif %}
{%-   for label in demo.security_group_rules | sort %}
      - openstack: demo-security-group-{{ label }}
{%-   endfor %}

demo-floating-ip-{{ server }}:
  openstack.floating_ip_present:
    - name: {{ server }}
    - network: {{ demo.external.network }}
    - cloud: {{ demo.demo_cloud }}
    - require:
      - openstack: demo-server-{{ server }}
      - openstack: demo-router
{%- endfor %}
