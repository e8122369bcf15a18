{#- numerator / denominator as an exact decimal, truncated to `scale` places. -#}
{% macro divide_exact(numerator, denominator, scale=10) %}
    {{- return(adapter.dispatch('divide_exact', 'usage_billing')(numerator, denominator, scale)) -}}
{% endmacro %}

{% macro default__divide_exact(numerator, denominator, scale) -%}
    cast({{ numerator }} / {{ denominator }} as {{ usage_billing.type_decimal() }})
{%- endmacro %}

{#- DuckDB divides decimals in floating point; integer division of scaled values stays exact. -#}
{% macro duckdb__divide_exact(numerator, denominator, scale) -%}
    (
        cast(
            cast({{ numerator }} * 10000000000 as hugeint) * {{ 10 ** scale }}
            // cast({{ denominator }} * 10000000000 as hugeint)
            as decimal(38, 0)
        ) * cast('0.{{ '0' * (scale - 1) }}1' as decimal(38, {{ scale }}))
    )
{%- endmacro %}
