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

chrony-config:
  file.managed:
    - name: {{ chrony.config }}
    - source: salt://chrony/files/chrony.conf.jinja
    - template: jinja
    - mode: '0644'
    - require:
      - pkg: chrony-pkg
