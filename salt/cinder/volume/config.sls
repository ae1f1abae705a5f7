{#- cinder.conf with the backend, and the Ceph user's keyring, which only
    root and cinder read. #}
{%- from 'cinder/map.jinja' import cinder with context %}
{%- from 'ceph/map.jinja' import ceph, keyring with context %}
{%- set client = 'client.' ~ cinder.rbd.user %}
include:
  - cinder.volume.install
  - ceph

cinder-volume-config:
  file.managed:
    - name: {{ cinder.config }}
    - source: salt://cinder/files/cinder.conf.jinja
    - template: jinja
    - user: root
    - group: {{ cinder.group }}
    - mode: '0640'
    - show_changes: false
    - require:
      - pkg: cinder-volume-pkgs

cinder-volume-ceph-keyring:
  file.managed:
    - name: /etc/ceph/{{ ceph.cluster }}.{{ client }}.keyring
    - contents: {{ keyring(client, ceph['keys'][client]) | json }}
    - user: root
    - group: {{ cinder.group }}
    - mode: '0640'
    - show_changes: false
    - require:
      - pkg: cinder-volume-pkgs
      - file: ceph-conf
