# The core of a cloud without compute: identity, images and placement.
saltlab:
  services:
    - keystone
    - glance
    - placement
