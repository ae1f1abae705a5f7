{#- The clients' cephx keys and caps (their keyrings are their formulas':
    cinder.volume's on this node, libvirt's secret on compute nodes). #}
{%- from 'ceph/map.jinja' import ceph with context %}
include:
  - ceph.mon
{%- for client, spec in ceph.clients | dictsort %}

ceph-client-{{ client }}:
  ceph.auth_present:
    - name: client.{{ client }}
    - key: {{ ceph['keys']['client.' ~ client] | json }}
    - caps: {{ spec.caps | json }}
    - require:
      - service: ceph-mon-service
{%- endfor %}
