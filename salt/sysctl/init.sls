{%- from 'sysctl/map.jinja' import sysctl with context %}
{%- from 'lab/map.jinja' import roles with context %}
{%- set params = dict(sysctl.all) %}
{%- for role in roles %}
{%-   do params.update(sysctl.roles.get(role, {})) %}
{%- endfor %}

{%- for name, value in params | dictsort %}
sysctl-{{ name }}:
  sysctl.present:
    - name: {{ name }}
    - value: {{ value }}
{%- endfor %}
