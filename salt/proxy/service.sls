{%- from 'proxy/map.jinja' import proxy with context %}
{%- from 'lib/systemd.jinja' import after_address with context %}
include:
  - proxy.pki
  - proxy.config
  - addresswait
{{ after_address('proxy', proxy.service, proxy.listen_address) }}

proxy-service:
  service.running:
    - name: {{ proxy.service }}
    - enable: true
    - watch:
      - file: proxy-site
      - file: proxy-site-enabled
      - file: proxy-default-site-absent
      - x509: proxy-cert
      - file: proxy-after-address
