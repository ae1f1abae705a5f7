{#- The lab model (pillar/model.yaml) as pillar `saltlab`, for every lab
    node; the formulas read it through salt/lib/lab.jinja. Its `secrets`
    (which roles get which secret) stays out: pillar/secrets.sls applies it. #}
{%- import_yaml 'model.yaml' as model %}
{%- do model.pop('secrets') %}
{%- set pillar = {'saltlab': model} %}
{{ pillar | yaml(False) }}
