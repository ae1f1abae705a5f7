{#- This node's secrets: of those tools/secrets generated once into
    pillar/secrets.json (git-ignored, mode 0600), only the ones the lab
    model gives the node's roles (pillar/model.yaml, `secrets:`), and the
    lab's SSH public key. The node is known by its minion id, which its key
    proves, never by the grains it reports. #}
{%- import_yaml 'model.yaml' as model %}
{%- import_json 'secrets.json' as generated %}
{%- set roles = [] %}
{%- for kind, spec in model.nodes.items() %}
{%-   if opts.id == kind or (spec.get('count') and opts.id | regex_match(kind ~ '([1-9][0-9]*)$')) %}
{%-     do roles.extend(spec.roles) %}
{%-   endif %}
{%- endfor %}
{%- set values = generated.saltlab.secrets %}
{%- set mine = {} %}
{%- for name, wanted in model.secrets | dictsort if wanted | select('in', roles) | list and name in values %}
{%-   do mine.update({name: values[name]}) %}
{%- endfor %}
{%- set pillar = {'saltlab': {'ssh_public_key': generated.saltlab.ssh_public_key, 'secrets': mine} } %}
{{ pillar | json }}
