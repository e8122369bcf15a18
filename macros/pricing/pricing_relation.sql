{#- The relation holding one pricing table (customers, prices, …), by the first of:
    - usage_billing_pricing_schema set: the table of that name in that schema (a source);
    - usage_billing_pricing_package set: that dbt project's model or seed of that name, so dbt
      builds it before the models that read it (the demo's seeds are read this way);
    - neither: the table of that name in the target schema (a source). -#}
{% macro pricing_relation(table_name) %}
    {%- if not var('usage_billing_pricing_schema') and var('usage_billing_pricing_package') -%}
        {{ return(ref(var('usage_billing_pricing_package'), table_name)) }}
    {%- else -%}
        {{ return(source('usage_billing_pricing', table_name)) }}
    {%- endif -%}
{% endmacro %}

{#- A pricing table users may leave out (discounts): pricing_relation when the table exists,
    else a query of no rows with the given (name, type) columns, so a warehouse without it builds
    as if it were empty. In package mode (usage_billing_pricing_package) the project must hold
    a model or seed of that name, which may be empty: a ref dbt cannot resolve fails parsing. -#}
{% macro optional_pricing_relation(table_name, columns) %}
    {%- set relation = usage_billing.pricing_relation(table_name) -%}
    {%- if execute and load_relation(relation) is none -%}
        {%- set casts = [] -%}
        {%- for name, type in columns -%}
            {%- do casts.append('cast(null as ' ~ type ~ ') as ' ~ name) -%}
        {%- endfor -%}
        {{- return('(select ' ~ casts | join(', ') ~ ' where 1 = 0)') -}}
    {%- endif -%}
    {{- return(relation) -}}
{% endmacro %}
