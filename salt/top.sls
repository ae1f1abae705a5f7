# The highstate. Roles come from the `roles` grain that each node's
# salt-cloud profile sets (a list: controller, network, compute, storage),
# never from host names.
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
