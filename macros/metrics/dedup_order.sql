{#- Sort direction that puts the kept row of a repeated event_id first: `last_wins` (default,
    the seed API's semantics: a re-sent id supersedes) or `first_wins` (the first load stands). -#}
{% macro dedup_order() %}
    {%- set policy = var('usage_billing_dedup_policy', 'last_wins') -%}
    {%- if policy == 'last_wins' -%}
        {{- return('desc') -}}
    {%- elif policy == 'first_wins' -%}
        {{- return('asc') -}}
    {%- else -%}
        {{ exceptions.raise_compiler_error("var usage_billing_dedup_policy: must be last_wins or first_wins, got '" ~ policy ~ "'") }}
    {%- endif -%}
{% endmacro %}
