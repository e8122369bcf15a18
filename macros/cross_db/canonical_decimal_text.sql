{#- An exact decimal (usage_billing.type_decimal) as plain text with all its decimal places,
    "0.0000000000", the same on every engine: invoices hash this text into content_hash. -#}
{% macro canonical_decimal_text(value) %}
    {{- return(adapter.dispatch('canonical_decimal_text', 'usage_billing')(value)) -}}
{% endmacro %}

{% macro default__canonical_decimal_text(value) -%}
    cast({{ value }} as {{ dbt.type_string() }})
{%- endmacro %}

{#- Spark writes small decimals in scientific notation ("0E-10"); format_number writes all 10
    places exactly, with thousands separators that are then dropped. -#}
{% macro spark__canonical_decimal_text(value) -%}
    replace(format_number({{ value }}, 10), ',', '')
{%- endmacro %}
