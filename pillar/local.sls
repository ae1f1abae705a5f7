# Nodes of the local provider (systemd-nspawn containers, matched by their
# `virtual` grain in pillar/top.sls).
saltlab:
  ovs:
    # no Open vSwitch kernel module here: the userspace datapath
    datapath_type: netdev
