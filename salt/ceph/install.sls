{%- from 'ceph/map.jinja' import ceph with context %}
include:
  - apt

ceph-pkgs:
  pkg.installed:
    - pkgs: {{ ceph.pkgs | json }}
{%- if ceph.install_recommends is false %}
    - install_recommends: false
{%- endif %}
    - require:
      - sls: apt
{%- for service in ceph.unused_services %}

ceph-unused-{{ service }}:
  service.dead:
    - name: {{ service }}
    - enable: false
    - require:
      - pkg: ceph-pkgs
{%- endfor %}
