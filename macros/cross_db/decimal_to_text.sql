{#- An exact decimal as short text for descriptions: 1000.0000000000 → '1000', 0.50 → '0.5'. -#}
{% macro decimal_to_text(value) %}
    {{- return(adapter.dispatch('decimal_to_text', 'usage_billing')(value)) -}}
{% endmacro %}

{#- Casts of a scaled decimal keep trailing zeros; trimmed only after a decimal point (BigQuery
    prints none, and '1000' must not lose its zeros). -#}
{% macro default__decimal_to_text(value) -%}
    case
        when cast({{ value }} as {{ dbt.type_string() }}) like '%.%'
            then rtrim(rtrim(cast({{ value }} as {{ dbt.type_string() }}), '0'), '.')
        else cast({{ value }} as {{ dbt.type_string() }})
    end
{%- endmacro %}

{#- Spark's rtrim takes no characters to trim; the SQL-standard trim(trailing … from …) does.
    Its cast writes small decimals in scientific notation ("5E-7"): format_number does not. -#}
{% macro spark__decimal_to_text(value) -%}
    {%- set text = "replace(format_number(" ~ value ~ ", 10), ',', '')" -%}
    trim(trailing '.' from trim(trailing '0' from {{ text }}))
{%- endmacro %}
