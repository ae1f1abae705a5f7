# Lab-wide settings (formula defaults live in salt/<formula>/defaults.yaml;
# these are the values a lab changes).
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
  controller_address: 192.168.1.11
