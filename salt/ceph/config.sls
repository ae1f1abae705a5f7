{#- The cluster's configuration (every daemon and client reads it) and
    client.admin's keyring, root's only: the ceph CLI on this node, and
    Salt's ceph modules, act as client.admin. #}
{%- from 'ceph/map.jinja' import ceph, keyring with context %}
include:
  - ceph.install

ceph-conf:
  file.managed:
    - name: {{ ceph.conf }}
    - source: salt://ceph/files/ceph.conf.jinja
    - template: jinja
    - mode: '0644'
    - require:
      - pkg: ceph-pkgs

ceph-admin-keyring:
  file.managed:
    - name: {{ ceph.admin_keyring }}
    - contents: {{ keyring('client.admin', ceph['keys']['client.admin'], ceph.admin_caps) | json }}
    - user: root
    - group: root
    - mode: '0600'
    - show_changes: false
    - require:
      - pkg: ceph-pkgs
