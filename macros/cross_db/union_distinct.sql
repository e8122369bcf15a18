{#- A union that drops repeated rows. BigQuery takes only `union distinct` (a bare `union` is a
    syntax error there); Snowflake and Redshift only the bare word. -#}
{% macro union_distinct() %}
    {{- return(adapter.dispatch('union_distinct', 'usage_billing')()) -}}
{% endmacro %}

{% macro default__union_distinct() -%}
    {{- return('union') -}}
{%- endmacro %}

{% macro bigquery__union_distinct() -%}
    {{- return('union distinct') -}}
{%- endmacro %}
