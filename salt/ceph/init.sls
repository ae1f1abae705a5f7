{#- Ceph on the storage node: a single-node cluster (one monitor, one
    manager, one BlueStore OSD on the data disk or a file), made by hand
    as Ceph's manual deployment describes it (no cephadm, no ceph-volume:
    that needs LVM and device-mapper), each step only when the cluster or
    the file system says it is needed; the lab's pools (one copy each, a
    quota each) and the clients' cephx keys. #}
include:
  - ceph.install
  - ceph.config
  - ceph.mon
  - ceph.mgr
  - ceph.osd
  - ceph.pools
  - ceph.clients
