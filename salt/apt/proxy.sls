{%- from 'apt/map.jinja' import apt with context %}
{%- from 'lab/map.jinja' import lab with context %}
{%- set cache_url = 'http://%s:%s' % (lab.controller_address, apt.cache.port) %}

{#- On a first run every node applies at once: wait for the controller's
    cache, the only way to packages from nodes without a public network. #}
apt-proxy-cache-answers:
  http.query:
    - name: {{ cache_url }}/acng-report.html
    - status: 200
    - wait_for: {{ apt.wait_for_cache }}
    - request_interval: 5

apt-proxy-config:
  file.managed:
    - name: {{ apt.proxy_config }}
    - contents: 'Acquire::http::Proxy "{{ cache_url }}";'
    - require:
      - http: apt-proxy-cache-answers
