{%- from 'apt/map.jinja' import apt with context %}
{#- the roles grain, not the lab's facts: a lab host has no lab model #}
{%- if grains.get('roles', []) | select('in', apt.direct_roles) | list %}
apt-proxy-config:
  file.absent:
    - name: {{ apt.proxy_config }}
{%- else %}
{%-   from 'lib/lab.jinja' import lab with context %}
{%-   set cache_url = 'http://%s:%s' % (lab.controller_address, apt.cache.port) %}

{#- All nodes apply their highstate at once: on a first run the controller
    is still installing its cache while the others want packages. Under
    test=True no query is made at all, so there is nothing to wait for. #}
apt-cache-answers:
  http.wait_for_successful_query:
    - name: {{ cache_url }}/{{ apt.cache.report_page }}
    - status: 200
    - wait_for: {{ 0 if opts.test else apt.cache.wait_for }}
    - request_interval: {{ apt.cache.request_interval }}

apt-proxy-config:
  file.managed:
    - name: {{ apt.proxy_config }}
    - source: salt://apt/files/proxy.conf.jinja
    - template: jinja
    - mode: '0644'
    - context:
        cache_url: {{ cache_url }}
    - require:
      - http: apt-cache-answers
{%- endif %}
