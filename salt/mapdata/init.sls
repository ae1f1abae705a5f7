{#- Each formula's settings as this node computes them (what its map.jinja
    makes of defaults.yaml, the pillar and the lab facts), one file per
    formula: /tmp/salt_mapdata_<formula>.yaml. Not in the highstate: apply
    it to see what a node would get (pillar mapdata:formulas names the
    formulas), e.g.
      salt compute1 state.apply mapdata pillar='{"mapdata": {"formulas": ["nova", "neutron"]} }'
    The render tests compare it, per role, with tests/render/mapdata/. #}
{%- for formula in salt['pillar.get']('mapdata:formulas', []) %}
{%-   import formula ~ '/map.jinja' as settings with context %}

mapdata-{{ formula }}:
  file.managed:
    - name: /tmp/salt_mapdata_{{ formula }}.yaml
    - contents: {{ settings[formula] | yaml(False) | json }}
{%- endfor %}
