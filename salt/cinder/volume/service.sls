{#- cinder-volume, once Ceph's pool and its user are there; when the node
    boots, after Ceph's daemons (its backend connects to them as it
    starts). #}
{%- from 'cinder/map.jinja' import cinder with context %}
{%- from 'ceph/map.jinja' import ceph with context %}
include:
  - cinder.volume.config
  - cinder.volume.ready
  - ceph

cinder-volume-after-ceph:
  file.managed:
    - name: /etc/systemd/system/{{ cinder.volume.service }}.service.d/saltlab-ceph.conf
    - makedirs: true
    - mode: '0644'
    - contents: |
        # Managed by Salt (saltlab cinder formula): the RBD backend connects
        # to Ceph as cinder-volume starts.
        [Unit]
        Wants=ceph-mon@{{ ceph.id }}.service ceph-osd@{{ ceph.osd.id }}.service
        After=ceph-mon@{{ ceph.id }}.service ceph-osd@{{ ceph.osd.id }}.service

cinder-volume-service:
  service.running:
    - name: {{ cinder.volume.service }}
    - enable: true
    - require:
      - ready: cinder-volume-scheduler-up
      - ceph: ceph-pool-{{ cinder.rbd.pool }}
      - ceph: ceph-client-{{ cinder.rbd.user }}
    - watch:
      - file: cinder-volume-config
      - file: cinder-volume-ceph-keyring
      - file: cinder-volume-after-ceph
