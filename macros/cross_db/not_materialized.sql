{#- Written after `name as` in a CTE read twice with disjoint filters: the engine streams it to
    both readers instead of storing it first (DuckDB stored every raw event of a build and
    spilled them). Nothing on engines without the hint or its syntax (Redshift, Snowflake,
    Spark, BigQuery): they plan the CTE as they like. -#}
{% macro not_materialized() %}
    {{- return(adapter.dispatch('not_materialized', 'usage_billing')()) -}}
{% endmacro %}

{% macro default__not_materialized() -%}
    {{- return('') -}}
{%- endmacro %}

{% macro duckdb__not_materialized() -%}
    {{- return('not materialized') -}}
{%- endmacro %}

{% macro postgres__not_materialized() -%}
    {{- return('not materialized') -}}
{%- endmacro %}

{% macro redshift__not_materialized() -%}
    {{- return('') -}}
{%- endmacro %}
