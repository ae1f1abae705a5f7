{#- Time: the controller serves the management network, the others follow it. #}
{%- from 'chrony/map.jinja' import chrony with context %}
{%- from 'lab/map.jinja' import lab, roles with context %}
include:
  - apt

chrony-pkg:
  pkg.installed:
    - name: {{ chrony.pkg }}
    - require:
      - sls: apt

chrony-config:
  file.managed:
    - name: {{ chrony.config }}
    - source: salt://chrony/files/chrony.conf.jinja
    - template: jinja
    - context:
        server: {{ 'controller' in roles }}
        chrony: {{ chrony | json }}
        mgmt_cidr: {{ lab.networks.mgmt.cidr }}
        controller: {{ lab.controller_address }}
    - require:
      - pkg: chrony-pkg

chrony-defaults:
  file.managed:
    - name: {{ chrony.defaults_file }}
    - contents: |
        # Managed by Salt (saltlab chrony formula)
        DAEMON_OPTS="-F 1{{ '' if chrony.control_clock else ' -x' }}"
    - require:
      - pkg: chrony-pkg

chrony-service:
  service.running:
    - name: {{ chrony.service }}
    - enable: True
    - watch:
      - file: chrony-config
      - file: chrony-defaults
