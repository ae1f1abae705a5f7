{#- Octavia's service user in the network node's clouds.yaml (root's,
    0600), for Salt's openstack modules: the amphorae's resources are its
    own. They are made once its user exists and Nova answers, and the
    services start once Octavia's API does (its database schema is made
    before it starts): on a first highstate of every node at once, the
    controller is still installing them. #}
{%- from 'octavia/map.jinja' import octavia with context %}
{%- from 'openstack/map.jinja' import openstack with context %}
include:
  - octavia.worker.install

octavia-worker-clouds-yaml:
  file.managed:
    - name: {{ openstack.clouds_yaml }}
    - source: salt://lib/files/clouds.yaml.jinja
    - template: jinja
    - mode: '0600'
    - makedirs: true
    - show_changes: false
    - context:
        purpose: Octavia's service user, for its amphorae's resources.
        clouds:
          - {name: {{ octavia.worker.cloud }}, user: octavia, project: {{ openstack.service_project }},
             password: {{ octavia.service_password | json }}}

octavia-worker-nova-up:
  ready.compute_service:
    - name: nova-conductor
    - cloud: {{ octavia.worker.cloud }}
    - timeout: {{ octavia.worker.api_wait }}
    - require:
      - file: octavia-worker-clouds-yaml
      - pkg: octavia-worker-pkgs

octavia-worker-api-up:
  ready.api_answers:
    - name: {{ openstack.catalog.octavia.url }}/
    - timeout: {{ octavia.worker.api_wait }}
