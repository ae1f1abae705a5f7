{#- cinder-volume on the storage node, with the RBD backend: volumes are
    images in the ceph formula's pool, which QEMU on the compute nodes
    opens through librbd. It starts once the controller's scheduler is up
    (a first highstate of every node at once). #}
include:
  - cinder.volume.install
  - cinder.volume.config
  - cinder.volume.ready
  - cinder.volume.service
