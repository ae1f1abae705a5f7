{#- memcached: Keystone's token cache and the services' auth cache. #}
{%- from 'memcached/map.jinja' import memcached with context %}
{%- from 'lib/systemd.jinja' import after_address with context %}
include:
  - apt
  - addresswait
{{ after_address('memcached', memcached.service, memcached.address) }}

memcached-pkg:
  pkg.installed:
    - name: {{ memcached.pkg }}
    - require:
      - sls: apt

memcached-config:
  file.managed:
    - name: {{ memcached.config }}
    - source: salt://memcached/files/memcached.conf.jinja
    - template: jinja
    - mode: '0644'
    - require:
      - pkg: memcached-pkg

memcached-service:
  service.running:
    - name: {{ memcached.service }}
    - enable: true
    - watch:
      - file: memcached-config
      - file: memcached-after-address
