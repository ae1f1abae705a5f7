{#- apt-cacher-ng: the lab's package cache, on the controller's management
    address. It logs every request with the client's address
    (/var/log/apt-cacher-ng/apt-cacher.log). #}
{%- from 'apt/map.jinja' import apt with context %}
{%- from 'lib/lab.jinja' import lab with context %}
{%- from 'lib/systemd.jinja' import after_address with context %}
include:
  - apt
  - addresswait
{{ after_address('apt-cache', apt.cache.service, lab.controller_address) }}

apt-cache-pkg:
  pkg.installed:
    - name: {{ apt.cache.pkg }}
    - require:
      - sls: apt

apt-cache-config:
  file.managed:
    - name: {{ apt.cache.config }}
    - source: salt://apt/files/acng.conf.jinja
    - template: jinja
    - mode: '0644'
    - require:
      - pkg: apt-cache-pkg

{%- for backend, url in apt.cache.backends | dictsort %}

apt-cache-backend-{{ backend }}:
  file.managed:
    - name: {{ apt.cache.config_dir }}/backends_{{ backend }}
    - source: salt://apt/files/backend.jinja
    - template: jinja
    - context:
        url: {{ url }}
    - mode: '0644'
    - require:
      - pkg: apt-cache-pkg
    - watch_in:
      - service: apt-cache-service
{%- endfor %}

apt-cache-service:
  service.running:
    - name: {{ apt.cache.service }}
    - enable: true
    - watch:
      - file: apt-cache-config
      - file: apt-cache-after-address
