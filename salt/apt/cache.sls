{%- from 'apt/map.jinja' import apt with context %}
{%- from 'lab/map.jinja' import lab with context %}

apt-cache-pkg:
  pkg.installed:
    - name: {{ apt.cache.pkg }}

apt-cache-config:
  file.managed:
    - name: {{ apt.cache.config }}
    - source: salt://apt/files/apt-cacher-ng.conf.jinja
    - template: jinja
    - context:
        address: {{ lab.controller_address }}
        port: {{ apt.cache.port }}
    - require:
      - pkg: apt-cache-pkg

apt-cache-service:
  service.running:
    - name: {{ apt.cache.service }}
    - enable: True
    - watch:
      - file: apt-cache-config
