{#- Salt's debconf module needs debconf-utils; the service formulas preseed
    Debian's questions with it before they install their packages. #}
include:
  - apt

openstack-debconf-utils:
  pkg.installed:
    - name: debconf-utils
    - reload_modules: true
    - require:
      - sls: apt
