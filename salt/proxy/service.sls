{%- from 'proxy/map.jinja' import proxy with context %}
include:
  - proxy.pki
  - proxy.config

proxy-service:
  service.running:
    - name: {{ proxy.service }}
    - enable: true
    - watch:
      - file: proxy-site
      - file: proxy-site-enabled
      - file: proxy-default-site-absent
      - x509: proxy-cert
