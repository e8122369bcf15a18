{#- The smallest whole number of `denominator`s covering `numerator` (packages used), exactly. -#}
{% macro ceil_divide(numerator, denominator) %}
    {{- return(adapter.dispatch('ceil_divide', 'usage_billing')(numerator, denominator)) -}}
{% endmacro %}

{% macro default__ceil_divide(numerator, denominator) -%}
    ceil({{ numerator }} / {{ denominator }})
{%- endmacro %}

{#- DuckDB divides decimals in floating point (0.3 / 0.1 > 3); ceiling of scaled integers is exact. -#}
{% macro duckdb__ceil_divide(numerator, denominator) -%}
    (
        -(
            -cast({{ numerator }} * 10000000000 as hugeint)
            // cast({{ denominator }} * 10000000000 as hugeint)
        )
    )
{%- endmacro %}
