{#- What the local provider needs, as the checkout's own
    tools/install-host-deps says (the virtualenv comes with the lab). #}
{%- from 'labhost/map.jinja' import labhost with context %}
include:
  - labhost.checkout

labhost-host-deps:
  cmd.run:
    - name: tools/install-host-deps --system
    - cwd: {{ labhost.checkout }}
    - unless: tools/install-host-deps --system --check
    - require:
      - git: labhost-checkout
