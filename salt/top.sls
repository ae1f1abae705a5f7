# The highstate. Roles come from the `roles` grain that each node's
# salt-cloud profile sets (a list: controller, network, compute, storage;
# or labhost, the machine that runs a whole lab), never from host names.
# The OpenStack services come from the lab's pillar (saltlab:services, see
# pillar/lab.sls); they are checked by the `openstack` and `proxy` formulas,
# never here: Salt reports a top file that fails to render as "No Top file
# matches" and drops the message.
base:
  'not G@roles:labhost':
    - match: compound
    - hosts
    - users
    - apt
    - chrony
    - sysctl
    - packages
    - firewall
  'roles:controller':
    - match: grain
    - apt.cache
{%- if salt['pillar.get']('saltlab:services') %}
    - openstack
  'roles:network':
    - match: grain
    - proxy
{%- endif %}
  'G@roles:network or G@roles:compute':
    - match: compound
    - extbridge
{%- if salt['pillar.get']('saltlab:services') %}
    - openstack.agents
  'roles:storage':
    - match: grain
    - openstack.storage
{%- endif %}
  'roles:labhost':
    - match: grain
    - labhost
