# Settings of the lab's formulas, for every node: the `saltlab:<formula>`
# keys here override salt/<formula>/defaults.yaml. A lab's own pillar
# (pillar/labs/<lab>.sls) overrides these. The lab's shape (networks,
# nodes, addresses, the service catalog) is pillar/model.yaml.
saltlab:
  chrony:
    # The controller's time sources; none in the lab: it serves its own
    # clock at stratum 8 and every other node follows the controller.
    upstream: []

  packages:
    pkgs:
      - bash-completion
      - curl
      - jq
      - tcpdump
      - vim-tiny

  # Only net.* keys can be set inside a local (nspawn) node.
  sysctl:
    roles:
      network:
        net.ipv4.ip_forward: 1
      compute:
        net.ipv4.ip_forward: 1
