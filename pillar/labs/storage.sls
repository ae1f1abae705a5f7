# Block storage without compute: identity, images, placement and Cinder,
# whose volumes live in Ceph on the storage node (volumes made empty or
# from images, snapshots, through the API and the proxy). The smallest lab
# that runs the storage node's formulas; attaching a volume needs `full`.
saltlab:
  services:
    - keystone
    - glance
    - placement
    - cinder
