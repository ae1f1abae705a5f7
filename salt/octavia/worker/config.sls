{#- octavia.conf on the network node: rendered when the state runs, after
    the states that make the management network and its security group,
    whose ids it names. #}
{%- from 'octavia/map.jinja' import octavia with context %}
include:
  - octavia.worker.resources
  - octavia.worker.pki

octavia-worker-config:
  file.managed:
    - name: {{ octavia.config }}
    - source: salt://octavia/files/octavia.conf.jinja
    - template: jinja
    - user: root
    - group: {{ octavia.group }}
    - mode: '0640'
    - show_changes: false
    - require:
      - pkg: octavia-worker-pkgs
      - openstack: octavia-mgmt-network
      - openstack: octavia-mgmt-security-group
      - openstack: octavia-amphora-flavor
