{#- The lab's pools: one copy, their quota, their application (rbd: `rbd
    pool init`, once the OSD's placement groups are active). #}
{%- from 'ceph/map.jinja' import ceph with context %}
include:
  - ceph.osd
{%- for name, pool in ceph.pools | dictsort %}

ceph-pool-{{ name }}:
  ceph.pool_present:
    - name: {{ name }}
    - size: 1
    - quota_gb: {{ pool.quota_gb }}
    - application: {{ pool.application }}
    - require:
      - service: ceph-osd-service
{%- endfor %}
