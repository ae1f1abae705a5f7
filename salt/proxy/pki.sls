{#- A lab CA and the proxy's server certificate (Salt's x509_v2 modules),
    made once: a re-run keeps them while they are valid and match. #}
{%- from 'proxy/map.jinja' import proxy with context %}

proxy-pki-dir:
  file.directory:
    - name: {{ proxy.pki_dir }}
    - mode: '0755'
    - makedirs: true

proxy-ca-key:
  x509.private_key_managed:
    - name: {{ proxy.ca_key }}
    - algo: ec
    - keysize: 256
    - mode: '0600'
    - require:
      - file: proxy-pki-dir

proxy-ca-cert:
  x509.certificate_managed:
    - name: {{ proxy.ca_cert }}
    - signing_private_key: {{ proxy.ca_key }}
    - CN: saltlab lab CA
    - basicConstraints: critical, CA:true
    - keyUsage: critical, cRLSign, keyCertSign
    - subjectKeyIdentifier: hash
    - days_valid: {{ proxy.ca_days }}
    - mode: '0644'
    - require:
      - x509: proxy-ca-key

proxy-key:
  x509.private_key_managed:
    - name: {{ proxy.key }}
    - algo: ec
    - keysize: 256
    - mode: '0600'
    - require:
      - file: proxy-pki-dir

proxy-cert:
  x509.certificate_managed:
    - name: {{ proxy.cert }}
    - signing_private_key: {{ proxy.ca_key }}
    - signing_cert: {{ proxy.ca_cert }}
    - private_key: {{ proxy.key }}
    - CN: {{ proxy.public_address }}
    - subjectAltName: IP:{{ proxy.public_address }}, DNS:{{ grains['id'] }}
    - basicConstraints: critical, CA:false
    - keyUsage: critical, digitalSignature, keyEncipherment
    - extendedKeyUsage: serverAuth
    - days_valid: {{ proxy.cert_days }}
    - mode: '0644'
    - require:
      - x509: proxy-ca-cert
      - x509: proxy-key
