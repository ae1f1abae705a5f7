{#- Cinder's volumes on a compute node: RBD images that QEMU opens
    through librbd (qemu-block-extra), as the Ceph user whose key libvirt
    keeps in this secret (nova-compute.conf names it; Cinder's RBD backend
    says the same). The key never shows: the secret is set from a file
    root only reads. #}
{%- from 'nova/map.jinja' import nova with context %}
include:
  - nova.compute.service

nova-compute-rbd-secret:
  libvirt_secret.present:
    - name: {{ nova.rbd.secret_uuid }}
    - usage: client.{{ nova.rbd.user }} secret
    - value: {{ nova.rbd.key | json }}
    - require:
      - service: nova-compute-libvirt
    - require_in:
      - service: nova-compute-service
