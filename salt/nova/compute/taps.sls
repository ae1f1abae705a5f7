{#- With Open vSwitch's userspace datapath (local nodes), a guest's tap
    could stay down, and the guest got no DHCP lease: libvirt sets the new
    tap up while ovs-vswitchd, adding it to br-int, writes its flags back
    with the promiscuous one, from what it read just before (the journal:
    "Link UP", then "Link DOWN" in the same millisecond; the tap is left
    PROMISC without UP). systemd-networkd keeps every tap up
    (ActivationPolicy=always-up) and configures nothing else on it. #}
{%- from 'ovs/map.jinja' import ovs with context %}
{%- if ovs.datapath_type == 'netdev' %}
include:
  - nova.compute.service

nova-compute-taps-up:
  file.managed:
    - name: /etc/systemd/network/60-saltlab-guest-taps.network
    - mode: '0644'
    - contents: |
        # Managed by Salt (saltlab nova formula): do not edit.
        # The guests' taps stay up; nothing else is configured on them.
        [Match]
        Name=tap*

        [Link]
        ActivationPolicy=always-up

        [Network]
        ConfigureWithoutCarrier=yes
        LinkLocalAddressing=no
        IPv6AcceptRA=no
        KeepConfiguration=yes

nova-compute-taps-networkd:
  service.running:
    - name: systemd-networkd
    - reload: true
    - watch:
      - file: nova-compute-taps-up
    - require_in:
      - service: nova-compute-service
{%- endif %}
