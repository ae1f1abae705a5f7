{#- The lab's block storage on the storage node, when the lab has Cinder
    (pillar saltlab:services, checked by map.jinja): Ceph, and
    cinder-volume with its RBD backend. #}
{%- from 'openstack/map.jinja' import openstack with context %}
{%- if 'cinder' in openstack.services %}
include:
  - ceph
  - cinder.volume
{%- endif %}
