{#- The smallest whole number of `denominator`s covering `numerator` (packages used), exactly,
    for a non-negative numerator and a positive denominator. -#}
{% macro ceil_divide(numerator, denominator) %}
    {{- return(adapter.dispatch('ceil_divide', 'usage_billing')(numerator, denominator)) -}}
{% endmacro %}

{#- ceil(n / d) would round a quotient such as 1000.0000000001 before ceil sees it; subtracting
    the remainder first makes the division exact, so a rounded quotient is still a whole number. -#}
{% macro default__ceil_divide(numerator, denominator) -%}
    (
        ({{ numerator }} - mod({{ numerator }}, {{ denominator }})) / {{ denominator }}
        + case when mod({{ numerator }}, {{ denominator }}) > 0 then 1 else 0 end
    )
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
