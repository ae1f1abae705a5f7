{#- The lab's control plane on the controller: the infrastructure every
    service shares, then the services of pillar saltlab:services (checked
    by map.jinja: a bad list stops the render here, naming the key). #}
{%- from 'openstack/map.jinja' import openstack with context %}
include:
  - mariadb
  - rabbitmq
  - memcached
{%- for service in openstack.services %}
  - {{ service }}
{%- endfor %}
