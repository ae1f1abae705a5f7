{#- What the worker boots amphorae with, Octavia's service user's own: the
    flavor, the image tagged for Octavia, the SSH keypair, and the
    management network with its security group and the health manager's
    port (on this node, without port security: it talks to every
    amphora). #}
{%- from 'octavia/map.jinja' import octavia with context %}
{%- set amphora, management, cloud = octavia.amphora, octavia.management, octavia.worker.cloud %}
include:
  - octavia.worker.ready

octavia-amphora-flavor:
  openstack.flavor_present:
    - name: {{ amphora.flavor.name }}
    - vcpus: {{ amphora.flavor.vcpus }}
    - ram: {{ amphora.flavor.ram }}
    - disk: {{ amphora.flavor.disk }}
    - cloud: {{ cloud }}
    - require:
      - ready: octavia-worker-nova-up

octavia-amphora-image-file:
  file.managed:
    - name: {{ amphora.image.file }}
    - source: {{ amphora.image.source }}
    - makedirs: true
    - mode: '0644'

octavia-amphora-image:
  openstack.image_present:
    - name: {{ amphora.image.name }}
    - filename: {{ amphora.image.file }}
    - disk_format: qcow2
    - container_format: bare
    - visibility: private
    - tags: [{{ amphora.image.tag }}]
    - cloud: {{ cloud }}
    - require:
      - file: octavia-amphora-image-file
      - ready: octavia-worker-nova-up

octavia-amphora-keypair:
  openstack.keypair_present:
    - name: {{ amphora.keypair }}
    - public_key: {{ octavia.public_key | json }}
    - cloud: {{ cloud }}
    - require:
      - ready: octavia-worker-nova-up

octavia-mgmt-network:
  openstack.network_present:
    - name: {{ management.network }}
    - cloud: {{ cloud }}
    - require:
      - ready: octavia-worker-nova-up

{#- the health manager's fixed address is outside the pool #}
{%- set hosts = management.cidr | network_hosts %}
octavia-mgmt-subnet:
  openstack.subnet_present:
    - name: {{ management.subnet }}
    - network: {{ management.network }}
    - cidr: {{ management.cidr }}
    - allocation_pools:
      - start: {{ hosts[9] }}
        end: {{ hosts[-1] }}
    - cloud: {{ cloud }}
    - require:
      - openstack: octavia-mgmt-network

octavia-mgmt-security-group:
  openstack.security_group_present:
    - name: {{ management.security_group }}
    - description: Octavia's amphorae, reached by the worker from the network node
    - cloud: {{ cloud }}
    - require:
      - ready: octavia-worker-nova-up
{%- for label, port in [('agent', management.agent_port), ('ssh', 22)] %}

octavia-mgmt-security-group-{{ label }}:
  openstack.security_group_rule_present:
    - security_group: {{ management.security_group }}
    - protocol: tcp
    - port_range_min: {{ port }}
    - port_range_max: {{ port }}
    - remote_ip_prefix: {{ management.cidr }}
    - cloud: {{ cloud }}
    - require:
      - openstack: octavia-mgmt-security-group
{%- endfor %}

octavia-health-manager-port:
  openstack.port_present:
    - name: {{ management.port }}
    - network: {{ management.network }}
    - fixed_ips:
      - subnet: {{ management.subnet }}
        ip_address: {{ management.health_manager_address }}
    - device_owner: Octavia:health-mgr
    - binding_host: {{ octavia.agent_host }}
    - port_security: false
    - cloud: {{ cloud }}
    - require:
      - openstack: octavia-mgmt-subnet
