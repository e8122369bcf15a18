{#- An exact decimal (usage_billing.type_decimal) as plain text with all its decimal places,
    "0.0000000000", the same on every engine: invoices hash this text into content_hash. -#}
{% macro canonical_decimal_text(value) %}
    {{- return(adapter.dispatch('canonical_decimal_text', 'usage_billing')(value)) -}}
{% endmacro %}

{% macro default__canonical_decimal_text(value) -%}
    cast({{ value }} as {{ dbt.type_string() }})
{%- endmacro %}

{#- BigQuery's cast writes a BIGNUMERIC short: 1.5000000000 as "1.5", 2 as "2". Rounded to the 10
    places the other engines store (numeric(38, 10)), its text is padded with zeros to 10 places
    after the point (a point added when there is none), so the hash reads the same text. -#}
{% macro bigquery__canonical_decimal_text(value) -%}
    {%- set text = "cast(round(" ~ value ~ ", 10) as string)" -%}
    case
        when strpos({{ text }}, '.') = 0 then concat({{ text }}, '.0000000000')
        else rpad({{ text }}, strpos({{ text }}, '.') + 10, '0')
    end
{%- endmacro %}

{#- Spark writes small decimals in scientific notation ("0E-10"); format_number writes all 10
    places exactly, with thousands separators that are then dropped. -#}
{% macro spark__canonical_decimal_text(value) -%}
    replace(format_number({{ value }}, 10), ',', '')
{%- endmacro %}
