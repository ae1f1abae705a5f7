{%- from 'nova/map.jinja' import nova with context %}
include:
  - nova.compute.install

{%- for id, path, source in [('nova-compute-config', nova.config, 'nova.conf.jinja'),
                             ('nova-compute-hypervisor-config', nova.compute.config, 'nova-compute.conf.jinja')] %}

{{ id }}:
  file.managed:
    - name: {{ path }}
    - source: salt://nova/files/{{ source }}
    - template: jinja
    - user: root
    - group: {{ nova.group }}
    - mode: '0640'
    - show_changes: false
    - require:
      - pkg: nova-compute-pkgs
{%- endfor %}
