{#- The public NIC of the network node lets in only SSH, ICMP and the
    proxy's ports (and what answers its own connections). The rules are
    a table of their own (other tables, e.g. Neutron's, are untouched),
    loaded at boot by a unit of their own. #}
{%- from 'proxy/map.jinja' import proxy with context %}
include:
  - apt

proxy-firewall-pkg:
  pkg.installed:
    - name: nftables
    - require:
      - sls: apt

proxy-firewall-rules:
  file.managed:
    - name: {{ proxy.firewall }}
    - source: salt://proxy/files/public-firewall.nft.jinja
    - template: jinja
    - mode: '0644'
    - makedirs: true

proxy-firewall-unit:
  file.managed:
    - name: /etc/systemd/system/{{ proxy.firewall_unit }}
    - source: salt://proxy/files/public-firewall.service.jinja
    - template: jinja
    - mode: '0644'

proxy-firewall:
  service.running:
    - name: {{ proxy.firewall_unit }}
    - enable: true
    - require:
      - pkg: proxy-firewall-pkg
    - watch:
      - file: proxy-firewall-rules
      - file: proxy-firewall-unit
