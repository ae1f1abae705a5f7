# Settings of the lab, for every node. Formula defaults live in
# salt/<formula>/defaults.yaml; the `saltlab:<formula>` keys here override
# them. A lab's own pillar (pillar/labs/<lab>.sls) overrides these, and the
# generated pillar/secrets.sls adds saltlab:ssh_public_key and
# saltlab:secrets.
saltlab:
  networks:
    public:
      mtu: 1460
    mgmt:
      cidr: 192.168.1.0/24
      mtu: 1460
    underlay:
      cidr: 192.168.2.0/24
      mtu: 1460
    # Neutron's flat provider network (physnet) on the VXLAN external
    # bridge; the network node is its gateway and NATs it out. Its MTU is
    # computed: the underlay's minus VXLAN's 50 bytes.
    external:
      cidr: 172.16.0.0/24
      gateway: 172.16.0.1
  # The controller's management address: its services (time, package cache,
  # later the OpenStack APIs) are reached there. The provider gives the
  # other nodes network .12, computeN .2N, storage .31; /etc/hosts names
  # them all from the mine.
  controller_address: 192.168.1.11

  apt:
    cache:
      port: 3142

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
