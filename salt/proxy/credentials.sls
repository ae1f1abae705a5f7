{#- admin-openrc and demo-openrc for root on the network node: the
    OpenStack CLI through the proxy, trusting the lab CA. #}
{%- from 'proxy/map.jinja' import proxy with context %}
{%- from 'openstack/map.jinja' import openstack with context %}
{%- from 'lib/lab.jinja' import secret with context %}
include:
  - apt
  - proxy.pki

proxy-openstack-client:
  pkg.installed:
    - name: python3-openstackclient
    - require:
      - sls: apt
{%- for who, user, project, password in [
      ('admin', openstack.admin_user, openstack.admin_project, secret('keystone_admin')),
      ('demo', openstack.demo_user, openstack.demo_project, secret('demo')),
    ] %}

proxy-{{ who }}-openrc:
  file.managed:
    - name: {{ proxy.openrc_dir }}/{{ who }}-openrc
    - source: salt://proxy/files/openrc.jinja
    - template: jinja
    - context:
        user: {{ user }}
        project: {{ project }}
        password: {{ password | json }}
    - mode: '0600'
    - show_changes: false
    - require:
      - x509: proxy-ca-cert
{%- endfor %}
