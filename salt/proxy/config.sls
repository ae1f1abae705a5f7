{%- from 'proxy/map.jinja' import proxy with context %}
include:
  - proxy.install

proxy-site:
  file.managed:
    - name: {{ proxy.site }}
    - source: salt://proxy/files/site.conf.jinja
    - template: jinja
    - mode: '0644'
    - require:
      - pkg: proxy-pkg

proxy-site-enabled:
  file.symlink:
    - name: {{ proxy.site_enabled }}
    - target: {{ proxy.site }}
    - require:
      - file: proxy-site

{#- The package's welcome page would answer on port 80 of every NIC. #}
proxy-default-site-absent:
  file.absent:
    - name: {{ proxy.default_site }}
    - require:
      - pkg: proxy-pkg
