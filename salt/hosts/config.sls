{#- The lab nodes come from the mine, so a node added to the map appears
    everywhere on the next highstate and a destroyed one disappears. Only
    the block between the markers is Salt's: every other line (localhost,
    the package mirror the provider pins) stays as it is. #}
{%- from 'hosts/map.jinja' import hosts, nodes with context %}

{%- if nodes %}
hosts-lab-nodes:
  file.blockreplace:
    - name: {{ hosts.file }}
    - marker_start: {{ hosts.marker_start | yaml_squote }}
    - marker_end: {{ hosts.marker_end | yaml_squote }}
    - content: |
        {%- for minion, address in nodes | dictsort %}
        {{ address }}  {{ minion }}
        {%- endfor %}
    - append_if_not_found: true
    - backup: false

{%-   if hosts.drop_loopback_name and grains.id in nodes %}

hosts-loopback-name:
  host.only:
    - name: 127.0.1.1
    - hostnames: []
    - require:
      - file: hosts-lab-nodes
{%-   endif %}
{%- else %}
{#- Nothing is known yet (empty mine): leave the file alone rather than
    empty the block. #}
hosts-lab-nodes:
  test.show_notification:
    - text: The mine holds no lab node addresses yet; {{ hosts.file }} left as it is.
{%- endif %}
