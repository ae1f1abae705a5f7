{#- /etc/hosts names every lab node by its management address (from the
    mine, so a new compute node appears everywhere on the next highstate).
    Only these lines are managed: the mirror pinned by the provider stays. #}
{%- from 'lab/map.jinja' import nodes with context %}

{%- for minion, address in nodes | dictsort %}
hosts-{{ minion }}:
  host.only:
    - name: {{ address }}
    - hostnames:
      - {{ minion }}
{%- endfor %}

{%- if grains['id'] in nodes %}
{#- The node's own name resolves to its management address, not 127.0.1.1. #}
hosts-loopback-name:
  host.only:
    - name: 127.0.1.1
    - hostnames: []
{%- endif %}
