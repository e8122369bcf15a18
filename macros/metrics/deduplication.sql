{#- De-duplication's two vars (docs/metrics.md). -#}

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

{#- What rows must share, besides their event_id, to be repeats of one event. `customer`
    (default): the customer their alias resolves to, so two customers' ids never collide (ids
    from customers' own systems, such as order numbers, do) while a re-send under another alias
    of the same customer still is a repeat; rows of an unknown alias, the alias. `global`: the
    event_id alone. -#}
{% macro dedup_scope(customer_id, customer_alias) %}
    {%- set scope = var('usage_billing_dedup_scope', 'customer') -%}
    {%- if scope == 'customer' -%}
        {{- return("coalesce(" ~ dbt.concat(["'customer:'", customer_id]) ~ ", " ~ dbt.concat(["'alias:'", customer_alias]) ~ ")") -}}
    {%- elif scope == 'global' -%}
        {{- return("''") -}}
    {%- else -%}
        {{ exceptions.raise_compiler_error("var usage_billing_dedup_scope: must be customer or global, got '" ~ scope ~ "'") }}
    {%- endif -%}
{% endmacro %}
