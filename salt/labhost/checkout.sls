{#- The lab's checkout, cloned from the repository salt-cloud uploaded. #}
{%- from 'labhost/map.jinja' import labhost with context %}
include:
  - apt

labhost-pkgs:
  pkg.installed:
    - pkgs: {{ labhost.pkgs | json }}
    - require:
      - sls: apt

labhost-checkout:
  git.latest:
    - name: {{ labhost.source }}
    - target: {{ labhost.checkout }}
    - rev: {{ labhost.rev }}
    - user: root
    - require:
      - pkg: labhost-pkgs
