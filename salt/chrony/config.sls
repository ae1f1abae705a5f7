{%- from 'chrony/map.jinja' import chrony with context %}
include:
  - chrony.install

{#- Written before the package: chronyd starts on installation, and in a
    container it must not set the (host's) clock even then. The package's
    own file is a conffile; apt keeps ours (--force-confold). #}
chrony-defaults:
  file.managed:
    - name: {{ chrony.defaults_file }}
    - source: salt://chrony/files/default.jinja
    - template: jinja
    - mode: '0644'
    - require_in:
      - pkg: chrony-pkg

{%- if not chrony.control_clock %}

{#- Debian's unit starts chronyd only with CAP_SYS_TIME, which a node in a
    container does not get: with -x it needs none. #}
chrony-container:
  file.managed:
    - name: /etc/systemd/system/{{ chrony.service }}.service.d/saltlab-container.conf
    - makedirs: true
    - mode: '0644'
    - contents: |
        # Managed by Salt (saltlab chrony formula): chronyd runs with -x here.
        [Unit]
        ConditionCapability=
    - require_in:
      - pkg: chrony-pkg
{%- endif %}

chrony-config:
  file.managed:
    - name: {{ chrony.config }}
    - source: salt://chrony/files/chrony.conf.jinja
    - template: jinja
    - mode: '0644'
    - require:
      - pkg: chrony-pkg
