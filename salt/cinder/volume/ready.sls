{#- cinder-volume registers itself in Cinder's database and queue when it
    starts: on a first highstate of every node at once, the controller is
    still installing them. So it starts after the scheduler is up, as the
    volume API reports it to Cinder's own service user. #}
{%- from 'cinder/map.jinja' import cinder with context %}
{%- from 'openstack/map.jinja' import openstack with context %}
include:
  - cinder.volume.install

cinder-volume-clouds-yaml:
  file.managed:
    - name: {{ openstack.clouds_yaml }}
    - source: salt://lib/files/clouds.yaml.jinja
    - template: jinja
    - mode: '0600'
    - makedirs: true
    - show_changes: false
    - context:
        purpose: Cinder's service user, to wait for cinder-scheduler.
        clouds:
          - {name: {{ cinder.volume.cloud }}, user: cinder, project: {{ openstack.service_project }},
             password: {{ cinder.service_password | json }}}

cinder-volume-scheduler-up:
  ready.volume_service:
    - name: cinder-scheduler
    - cloud: {{ cinder.volume.cloud }}
    - timeout: {{ cinder.volume.scheduler_wait }}
    - require:
      - file: cinder-volume-clouds-yaml
      - pkg: cinder-volume-pkgs
