{%- from 'nova/map.jinja' import nova with context %}
{%- from 'lib/systemd.jinja' import after_address with context %}
{%- from 'lib/lab.jinja' import lab with context %}
include:
  - nova.install
  - nova.config
  - nova.db
  - addresswait

{#- all after the management address: the APIs and the noVNC proxy listen
    there, the conductor and the scheduler reach MariaDB and RabbitMQ there #}
{%- for service in nova.services %}
{{ after_address('nova-' ~ service, service, lab.controller_address) }}

nova-service-{{ service }}:
  service.running:
    - name: {{ service }}
    - enable: true
    - require:
      - cmd: nova-db-sync
    - watch:
      - file: nova-config
      - file: nova-consoleproxy-defaults
      - file: nova-{{ service }}-after-address
{%-   for name, api in nova.apis | dictsort if api.daemon == service %}
      - file: nova-{{ name }}-listen
{%-   endfor %}
{%- endfor %}
{%- for service in nova.unused_services %}

nova-service-{{ service }}-off:
  service.dead:
    - name: {{ service }}
    - enable: false
    - require:
      - pkg: nova-pkgs
{%- endfor %}
