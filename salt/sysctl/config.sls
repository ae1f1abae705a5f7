{#- Set now and kept in /etc/sysctl.d/99-salt.conf. In a local (nspawn)
    node only net.* keys are writable (its own network namespace); any
    other key must be set on the host and fails here. #}
{%- from 'sysctl/map.jinja' import sysctl with context %}

{%- for name, value in sysctl.params | dictsort %}

sysctl-{{ name }}:
  sysctl.present:
    - name: {{ name }}
    - value: {{ value | yaml_dquote if value is string else value }}
{%- endfor %}
