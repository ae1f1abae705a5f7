{#- The monitor: its store made once from ceph.conf (the monitor map: this
    node at its management address) and a keyring of its own key and
    client.admin's (the store starts with both); then its service, after
    that address is there, also when the node boots. #}
{%- from 'ceph/map.jinja' import ceph, keyring with context %}
{%- from 'lib/systemd.jinja' import after_address with context %}
include:
  - ceph.config
  - addresswait

ceph-mon-keyring:
  file.managed:
    - name: {{ ceph.data_dir }}/tmp/{{ ceph.cluster }}.mon.keyring
    - contents: {{ (keyring('mon.', ceph['keys']['mon.'], {'mon': 'allow *'})
                    ~ keyring('client.admin', ceph['keys']['client.admin'], ceph.admin_caps)) | json }}
    - user: {{ ceph.user }}
    - group: {{ ceph.group }}
    - mode: '0600'
    - show_changes: false
    - require:
      - pkg: ceph-pkgs

{#- `done` is written last: a directory without it is a mkfs that did not
    finish, made again. #}
ceph-mon-mkfs:
  cmd.run:
    - name: >-
        rm -rf {{ ceph.mon.data }}
        && install -d -o {{ ceph.user }} -g {{ ceph.group }} -m 0750 {{ ceph.mon.data }}
        && ceph-mon --cluster {{ ceph.cluster }} --mkfs -i {{ ceph.id }}
        --keyring {{ ceph.data_dir }}/tmp/{{ ceph.cluster }}.mon.keyring --setuser {{ ceph.user }} --setgroup {{ ceph.group }}
        && touch {{ ceph.mon.data }}/done
    - creates: {{ ceph.mon.data }}/done
    - require:
      - file: ceph-conf
      - file: ceph-mon-keyring
{{ after_address('ceph-mon', 'ceph-mon@' ~ ceph.id, ceph.address) }}

ceph-mon-service:
  service.running:
    - name: ceph-mon@{{ ceph.id }}
    - enable: true
    - require:
      - cmd: ceph-mon-mkfs
    - watch:
      - file: ceph-conf
      - file: ceph-mon-after-address
