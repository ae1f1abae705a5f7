{#- A unit that waits until an address is on one of the node's NICs:
    services that listen on a lab address start after it (through
    lib/systemd.jinja's after_address), also when the node boots. #}
{%- from 'addresswait/map.jinja' import addresswait with context %}

addresswait-unit:
  file.managed:
    - name: {{ addresswait.unit }}
    - source: salt://addresswait/files/address.service.jinja
    - template: jinja
    - mode: '0644'
