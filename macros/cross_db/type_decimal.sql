{#- The one exact decimal type for quantities, rates and money: 38 digits, 10 after the point.
    Products of two of these keep 18 integer digits on DuckDB, which caps scale at 38 - s1 - s2. -#}
{% macro type_decimal() %}
    {{- return(adapter.dispatch('type_decimal', 'usage_billing')()) -}}
{% endmacro %}

{% macro default__type_decimal() -%}
    numeric(38, 10)
{%- endmacro %}

{#- BigQuery's NUMERIC holds only 9 decimals; BIGNUMERIC holds 38. -#}
{% macro bigquery__type_decimal() -%}
    bignumeric
{%- endmacro %}

{#- Spark names it decimal; numeric is accepted only by newer runtimes. -#}
{% macro spark__type_decimal() -%}
    decimal(38, 10)
{%- endmacro %}
