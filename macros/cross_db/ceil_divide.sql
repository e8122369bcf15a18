{#- The smallest whole number of `denominator`s covering `numerator` (packages used), exactly. -#}
{% macro ceil_divide(numerator, denominator) %}
    {{- return(adapter.dispatch('ceil_divide', 'usage_billing')(numerator, denominator)) -}}
{% endmacro %}

{% macro default__ceil_divide(numerator, denominator) -%}
    ceil({{ numerator }} / {{ denominator }})
{%- endmacro %}

{#- DuckDB divides decimals in floating point (0.3 / 0.1 > 3). Dividing the values scaled to
    integers is exact; integer division truncates toward zero, so a positive remainder adds one. -#}
{% macro duckdb__ceil_divide(numerator, denominator) -%}
    {%- set scaled_numerator = 'cast((' ~ numerator ~ ') * 10000000000 as hugeint)' -%}
    {%- set scaled_denominator = 'cast((' ~ denominator ~ ') * 10000000000 as hugeint)' -%}
    (
        {{ scaled_numerator }} // {{ scaled_denominator }}
        + case when {{ scaled_numerator }} % {{ scaled_denominator }} > 0 then 1 else 0 end
    )
{%- endmacro %}
