{#- The local lab on this host: `make lab` in the checkout (nodes, master,
    highstate, the operator's clouds.yaml), once: when every node of the
    lab answers, the lab is there (re-converge it with `make highstate`). #}
{%- from 'labhost/map.jinja' import labhost with context %}
include:
  - labhost.prepare

labhost-lab:
  cmd.run:
    - name: make lab
    - cwd: {{ labhost.checkout }}
    - unless: python3 tools/lab.py status
    - require:
      - sls: labhost.prepare
