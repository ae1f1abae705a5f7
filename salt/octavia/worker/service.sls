{%- from 'octavia/map.jinja' import octavia with context %}
include:
  - octavia.worker.config
  - octavia.worker.interface

{#- after Octavia's API answers (its database schema is made before it
    starts), with the health manager's address on this node #}
{%- for service in octavia.worker.services %}

octavia-worker-service-{{ service }}:
  service.running:
    - name: {{ service }}
    - enable: true
    - require:
      - ready: octavia-worker-api-up
      - cmd: octavia-health-manager-reconfigure
      - openstack: octavia-amphora-image
      - openstack: octavia-amphora-keypair
      - file: octavia-client-bundle
    - watch:
      - file: octavia-worker-config
      - x509: octavia-server_ca-cert
      - x509: octavia-client_ca-cert
      - x509: octavia-client-cert
{%- endfor %}
