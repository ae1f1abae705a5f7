{%- from 'nova/map.jinja' import nova with context %}
include:
  - nova.compute.config
  - nova.compute.ready

nova-compute-libvirt:
  service.running:
    - name: {{ nova.compute.libvirt_service }}
    - enable: true
    - require:
      - pkg: nova-compute-pkgs

nova-compute-libvirt-guests-off:
  service.dead:
    - name: {{ nova.compute.libvirt_guests_service }}
    - enable: false
    - require:
      - pkg: nova-compute-pkgs

nova-compute-service:
  service.running:
    - name: {{ nova.compute.service }}
    - enable: true
    - require:
      - service: nova-compute-libvirt
      - ready: nova-compute-conductor-up
    - watch:
      - file: nova-compute-config
      - file: nova-compute-hypervisor-config
