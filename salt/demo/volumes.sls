{#- In a lab with Cinder: a volume of the demo user attached to one of
    its servers (the test guest lists its disks: port 9, `disks`). #}
{%- from 'demo/map.jinja' import demo with context %}
{%- if demo.volumes %}
include:
  - demo.servers

demo-data-volume:
  openstack.volume_present:
    - name: {{ demo.data_volume.name }}
    - size: {{ demo.data_volume.size }}
    - cloud: {{ demo.demo_cloud }}

demo-data-volume-attached:
  openstack.volume_attached:
    - name: {{ demo.data_volume.name }}
    - server: {{ demo.data_volume.server }}
    - cloud: {{ demo.demo_cloud }}
    - require:
      - openstack: demo-data-volume
      - openstack: demo-server-{{ demo.data_volume.server }}
{%- endif %}
