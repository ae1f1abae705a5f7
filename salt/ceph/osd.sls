{#- The OSD: its cephx key and id in the cluster, its directory and
    keyring, BlueStore made once on the data disk (the block symlink) or a
    sparse file, its service after the management address (and, on a
    disk, with the disk made the ceph user's: udev gives it to root at
    every boot). #}
{%- from 'ceph/map.jinja' import ceph, keyring with context %}
{%- from 'lib/systemd.jinja' import after_address with context %}
{%- set osd = ceph.osd %}
{%- set name = 'osd.' ~ osd.id %}
{%- set service = 'ceph-osd@' ~ osd.id %}
include:
  - ceph.mon
  - addresswait

ceph-osd-auth:
  ceph.auth_present:
    - name: {{ name }}
    - key: {{ ceph['keys'][name] | json }}
    - caps: {{ osd.caps | json }}
    - require:
      - service: ceph-mon-service

ceph-osd-id:
  ceph.osd_present:
    - name: '{{ osd.id }}'
    - uuid: {{ osd.uuid }}
    - require:
      - service: ceph-mon-service

ceph-osd-dir:
  file.directory:
    - name: {{ osd.data }}
    - user: {{ ceph.user }}
    - group: {{ ceph.group }}
    - mode: '0750'
    - makedirs: true
    - require:
      - pkg: ceph-pkgs

ceph-osd-keyring:
  file.managed:
    - name: {{ osd.data }}/keyring
    - contents: {{ keyring(name, ceph['keys'][name]) | json }}
    - user: {{ ceph.user }}
    - group: {{ ceph.group }}
    - mode: '0600'
    - show_changes: false
    - require:
      - file: ceph-osd-dir
{%- if osd.device %}
{#- the device's unit, as systemd-escape --path names it (for the usual
    characters of /dev/disk/by-id names) #}
{%-   set device_unit = osd.device.strip('/') | replace('-', '\\x2d') | replace('/', '-') ~ '.device' %}

ceph-osd-block:
  file.symlink:
    - name: {{ osd.data }}/block
    - target: {{ osd.device }}
    - user: {{ ceph.user }}
    - group: {{ ceph.group }}
    - require:
      - file: ceph-osd-dir

ceph-osd-device-owner:
  file.managed:
    - name: /etc/systemd/system/{{ service }}.service.d/saltlab-device.conf
    - makedirs: true
    - mode: '0644'
    - contents: |
        # Managed by Salt (saltlab ceph formula): BlueStore on {{ osd.device }},
        # which udev gives to root at every boot.
        [Unit]
        Wants={{ device_unit }}
        After={{ device_unit }}
        [Service]
        ExecStartPre=+/bin/chown {{ ceph.user }}:{{ ceph.group }} {{ osd.device }}
{%- endif %}

{#- `ready` is what the OSD's mkfs writes last; the OSD's id and key are
    the cluster's first. #}
ceph-osd-mkfs:
  cmd.run:
    - name: >-
{%- if osd.device %}
        chown {{ ceph.user }}:{{ ceph.group }} {{ osd.device }} &&
{%- endif %}
        ceph-osd --cluster {{ ceph.cluster }} -i {{ osd.id }} --mkfs --osd-uuid {{ osd.uuid }}
        --setuser {{ ceph.user }} --setgroup {{ ceph.group }}
    - creates: {{ osd.data }}/ready
    - require:
      - file: ceph-conf
      - file: ceph-osd-keyring
      - ceph: ceph-osd-auth
      - ceph: ceph-osd-id
{%- if osd.device %}
      - file: ceph-osd-block
{%- endif %}
{{ after_address('ceph-osd', service, ceph.address) }}

ceph-osd-service:
  service.running:
    - name: {{ service }}
    - enable: true
    - require:
      - cmd: ceph-osd-mkfs
    - watch:
      - file: ceph-conf
      - file: ceph-osd-after-address
{%- if osd.device %}
      - file: ceph-osd-device-owner
{%- endif %}
