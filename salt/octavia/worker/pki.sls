{#- The certificates of Octavia's two-way TLS with its amphorae (Salt's
    x509_v2 modules), made once: a re-run keeps them while they are valid
    and match. The server CA signs each amphora's certificate (the worker
    holds its key, under the generated passphrase); the client CA signs
    the controllers' client certificate, which the amphorae's agents
    accept. The agents run Python 3.13, whose strict checks want a
    keyUsage in a CA and an authority key id in the client certificate.
    Private keys: root and octavia only. #}
{%- from 'octavia/map.jinja' import octavia with context %}
{%- set certs = octavia.certs %}
include:
  - octavia.worker.install

octavia-pki-dir:
  file.directory:
    - name: {{ octavia.pki.dir }}
    - user: root
    - group: {{ octavia.group }}
    - mode: '0750'
    - require:
      - pkg: octavia-worker-pkgs
{%- for ca, label in [('server_ca', 'amphora server CA'), ('client_ca', 'amphora client CA')] %}

octavia-{{ ca }}-key:
  x509.private_key_managed:
    - name: {{ certs[ca ~ '_key'] }}
    - algo: rsa
    - keysize: 2048
{%-   if ca == 'server_ca' %}
    - passphrase: {{ octavia.ca_passphrase | json }}
{%-   endif %}
    - user: root
    - group: {{ octavia.group }}
    - mode: '0640'
    - require:
      - file: octavia-pki-dir

octavia-{{ ca }}-cert:
  x509.certificate_managed:
    - name: {{ certs[ca] }}
    - signing_private_key: {{ certs[ca ~ '_key'] }}
{%-   if ca == 'server_ca' %}
    - signing_private_key_passphrase: {{ octavia.ca_passphrase | json }}
{%-   endif %}
    - CN: saltlab Octavia {{ label }}
    - basicConstraints: critical, CA:true
    - keyUsage: critical, cRLSign, keyCertSign
    - subjectKeyIdentifier: hash
    - days_valid: {{ octavia.pki.days }}
    - user: root
    - group: {{ octavia.group }}
    - mode: '0644'
    - require:
      - x509: octavia-{{ ca }}-key
{%- endfor %}

octavia-client-key:
  x509.private_key_managed:
    - name: {{ certs.client_key }}
    - algo: rsa
    - keysize: 2048
    - user: root
    - group: {{ octavia.group }}
    - mode: '0640'
    - require:
      - file: octavia-pki-dir

octavia-client-cert:
  x509.certificate_managed:
    - name: {{ certs.client_cert }}
    - signing_private_key: {{ certs.client_ca_key }}
    - signing_cert: {{ certs.client_ca }}
    - private_key: {{ certs.client_key }}
    - CN: saltlab Octavia controller
    - basicConstraints: critical, CA:false
    - keyUsage: critical, digitalSignature, keyEncipherment
    - extendedKeyUsage: clientAuth
    - subjectKeyIdentifier: hash
    - authorityKeyIdentifier: keyid:always
    - days_valid: {{ octavia.pki.days }}
    - user: root
    - group: {{ octavia.group }}
    - mode: '0644'
    - require:
      - x509: octavia-client_ca-cert
      - x509: octavia-client-key

{#- Octavia reads its client certificate and key from one file: read when
    the state runs, after the states that make them #}
octavia-client-bundle:
  file.managed:
    - name: {{ certs.client_bundle }}
    - source: salt://octavia/files/client.pem.jinja
    - template: jinja
    - context:
        parts: [{{ certs.client_cert }}, {{ certs.client_key }}]
    - user: root
    - group: {{ octavia.group }}
    - mode: '0640'
    - show_changes: false
    - require:
      - x509: octavia-client-cert
      - x509: octavia-client-key
