{#- nova-compute reports ready to systemd (Debian's unit is Type=notify)
    only once it reaches nova-conductor, and systemd gives up after 90 s:
    on a first highstate of every node at once, the controller is still
    installing. So nova-compute starts after the conductor is up, as the
    compute API reports it to Nova's own service user. #}
{%- from 'nova/map.jinja' import nova with context %}
{%- from 'openstack/map.jinja' import openstack with context %}
include:
  - nova.compute.install

nova-compute-clouds-yaml:
  file.managed:
    - name: {{ openstack.clouds_yaml }}
    - source: salt://lib/files/clouds.yaml.jinja
    - template: jinja
    - mode: '0600'
    - makedirs: true
    - show_changes: false
    - context:
        purpose: Nova's service user, to wait for nova-conductor.
        clouds:
          - {name: {{ nova.compute.cloud }}, user: nova, project: {{ openstack.service_project }},
             password: {{ nova.service_password | json }}}

nova-compute-conductor-up:
  ready.compute_service:
    - name: nova-conductor
    - cloud: {{ nova.compute.cloud }}
    - timeout: {{ nova.compute.conductor_wait }}
    - require:
      - file: nova-compute-clouds-yaml
      - pkg: nova-compute-pkgs
