{%- from 'glance/map.jinja' import glance with context %}
include:
  - glance.install

glance-config:
  file.managed:
    - name: {{ glance.config }}
    - source: salt://glance/files/glance-api.conf.jinja
    - template: jinja
    - user: root
    - group: {{ glance.group }}
    - mode: '0640'
    - show_changes: false
    - require:
      - pkg: glance-pkgs

glance-images-dir:
  file.directory:
    - name: {{ glance.images_dir }}
    - user: {{ glance.user }}
    - group: {{ glance.group }}
    - mode: '0750'
    - require:
      - pkg: glance-pkgs
