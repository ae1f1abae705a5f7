{%- from 'demo/map.jinja' import demo with context %}
{%- from 'neutron/map.jinja' import neutron with context %}

demo-flavor:
  openstack.flavor_present:
    - name: {{ demo.flavor.name }}
    - vcpus: {{ demo.flavor.vcpus }}
    - ram: {{ demo.flavor.ram }}
    - disk: {{ demo.flavor.disk }}
    - cloud: {{ demo.admin_cloud }}

demo-image-file:
  file.managed:
    - name: {{ demo.image.file }}
    - source: {{ demo.image.source }}
    - makedirs: true
    - mode: '0644'

demo-image:
  openstack.image_present:
    - name: {{ demo.image.name }}
    - filename: {{ demo.image.file }}
    - disk_format: raw
    - container_format: bare
    - visibility: public
    - cloud: {{ demo.admin_cloud }}
    - require:
      - file: demo-image-file

{#- Neutron's flat provider network on the VXLAN external bridge #}
demo-external-network:
  openstack.network_present:
    - name: {{ demo.external.network }}
    - provider_network_type: flat
    - provider_physical_network: {{ neutron.physnet }}
    - is_router_external: true
    - is_shared: false
    - mtu: {{ demo.physnet_mtu }}
    - cloud: {{ demo.admin_cloud }}

demo-external-subnet:
  openstack.subnet_present:
    - name: {{ demo.external.subnet }}
    - network: {{ demo.external.network }}
    - cidr: {{ demo.external.cidr }}
    - gateway_ip: {{ demo.external.gateway }}
    - enable_dhcp: false
    - allocation_pools:
      - start: {{ demo.external.pool_start }}
        end: {{ demo.external.pool_end }}
    - cloud: {{ demo.admin_cloud }}
    - require:
      - openstack: demo-external-network
