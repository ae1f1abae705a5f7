# Formulas by role. Roles come from the `roles` grain that each node's
# salt-cloud profile sets, never from host names.
base:
  '*':
    - hosts
    - users
    - apt
    - chrony
    - sysctl
    - base
