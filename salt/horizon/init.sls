{#- Horizon, the dashboard, under /horizon on the controller's Apache; the
    TLS proxy serves it on 443. #}
{%- from 'horizon/map.jinja' import horizon with context %}
{%- from 'lib/openstack.jinja' import packages with context %}
{%- from 'lib/systemd.jinja' import after_address with context %}
{%- from 'lib/lab.jinja' import lab with context %}
{%- from 'openstack/map.jinja' import openstack with context %}
include:
  - apt
  - openstack.debconf
  - addresswait

{{ packages('horizon', horizon) }}

horizon-config:
  file.managed:
    - name: {{ horizon.config }}
    - source: salt://horizon/files/local_settings.py.jinja
    - template: jinja
    - user: root
    - group: www-data
    - mode: '0640'
    - show_changes: false
    - require:
      - pkg: horizon-pkgs

{#- Horizon in the daemon process Debian's configuration declares, in its
    main interpreter: cryptography's Rust bindings load only once per
    process, which rules out mod_wsgi's sub-interpreters. #}
horizon-apache-wsgi:
  file.managed:
    - name: /etc/apache2/conf-available/saltlab-horizon.conf
    - contents: |
        # Managed by Salt (saltlab horizon formula): do not edit.
        <Location /horizon>
            WSGIProcessGroup horizon
            WSGIApplicationGroup %{GLOBAL}
        </Location>
    - require:
      - pkg: horizon-pkgs

horizon-apache-wsgi-enabled:
  file.symlink:
    - name: /etc/apache2/conf-enabled/saltlab-horizon.conf
    - target: ../conf-available/saltlab-horizon.conf
    - require:
      - file: horizon-apache-wsgi

{#- Apache listens on the management address only: the TLS proxy is the
    way in. #}
horizon-apache-ports:
  file.managed:
    - name: {{ horizon.apache_ports }}
    - contents: |
        # Managed by Salt (saltlab horizon formula): do not edit.
        Listen {{ lab.controller_address }}:{{ openstack.catalog.horizon.port }}
    - require:
      - pkg: horizon-pkgs
{{ after_address('horizon', horizon.service, lab.controller_address) }}

{#- Debian's package enables Apache's default TLS site without its module;
    TLS is the proxy's job. #}
horizon-apache-default-ssl-absent:
  file.absent:
    - name: /etc/apache2/sites-enabled/default-ssl.conf
    - require:
      - pkg: horizon-pkgs

horizon-service:
  service.running:
    - name: {{ horizon.service }}
    - enable: true
    - watch:
      - pkg: horizon-pkgs
      - file: horizon-config
      - file: horizon-apache-default-ssl-absent
      - file: horizon-apache-wsgi
      - file: horizon-apache-wsgi-enabled
      - file: horizon-apache-ports
      - file: horizon-after-address
