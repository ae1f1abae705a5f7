# The highstate. Roles come from the `roles` grain that each node's
# salt-cloud profile sets (a list: controller, network, compute, storage),
# never from host names. The OpenStack services come from the lab's pillar
# (saltlab:services, see pillar/lab.sls).
{%- from 'openstack/map.jinja' import openstack with context %}
base:
  '*':
    - hosts
    - users
    - apt
    - chrony
    - sysctl
    - packages
  'roles:controller':
    - match: grain
    - apt.cache
{%- if openstack.services %}
    - mariadb
    - rabbitmq
    - memcached
{%-   for service in openstack.services %}
    - {{ service }}
{%-   endfor %}
  'roles:network':
    - match: grain
    - proxy
{%- endif %}
