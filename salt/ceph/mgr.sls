{#- The manager: its cephx key, its directory and keyring, the bcrypt
    stand-in its Python modules need on Debian 13 (defaults.yaml says
    why), its service after the management address. #}
{%- from 'ceph/map.jinja' import ceph, keyring with context %}
{%- from 'lib/systemd.jinja' import after_address with context %}
{%- set name = 'mgr.' ~ ceph.id %}
include:
  - ceph.mon
  - addresswait

ceph-mgr-auth:
  ceph.auth_present:
    - name: {{ name }}
    - key: {{ ceph['keys'][name] | json }}
    - caps: {{ ceph.mgr.caps | json }}
    - require:
      - service: ceph-mon-service

ceph-mgr-dir:
  file.directory:
    - name: {{ ceph.mgr.data }}
    - user: {{ ceph.user }}
    - group: {{ ceph.group }}
    - mode: '0750'
    - makedirs: true
    - require:
      - pkg: ceph-pkgs

ceph-mgr-keyring:
  file.managed:
    - name: {{ ceph.mgr.data }}/keyring
    - contents: {{ keyring(name, ceph['keys'][name]) | json }}
    - user: {{ ceph.user }}
    - group: {{ ceph.group }}
    - mode: '0600'
    - show_changes: false
    - require:
      - file: ceph-mgr-dir

ceph-mgr-bcrypt-standin:
  file.managed:
    - name: {{ ceph.mgr.bcrypt_standin }}/bcrypt.py
    - source: salt://ceph/files/bcrypt.py
    - makedirs: true
    - mode: '0644'

ceph-mgr-environment:
  file.managed:
    - name: /etc/systemd/system/ceph-mgr@{{ ceph.id }}.service.d/saltlab-bcrypt.conf
    - makedirs: true
    - mode: '0644'
    - contents: |
        # Managed by Salt (saltlab ceph formula): the bcrypt stand-in first
        # ({{ ceph.mgr.bcrypt_standin }}/bcrypt.py says why).
        [Service]
        Environment=PYTHONPATH={{ ceph.mgr.bcrypt_standin }}
{{ after_address('ceph-mgr', 'ceph-mgr@' ~ ceph.id, ceph.address) }}

ceph-mgr-service:
  service.running:
    - name: ceph-mgr@{{ ceph.id }}
    - enable: true
    - require:
      - ceph: ceph-mgr-auth
    - watch:
      - file: ceph-conf
      - file: ceph-mgr-keyring
      - file: ceph-mgr-bcrypt-standin
      - file: ceph-mgr-environment
      - file: ceph-mgr-after-address
