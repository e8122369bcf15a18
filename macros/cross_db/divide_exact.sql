{#- numerator / denominator as an exact decimal, truncated toward zero to `scale` places. -#}
{% macro divide_exact(numerator, denominator, scale=10) %}
    {{- return(adapter.dispatch('divide_exact', 'usage_billing')(numerator, denominator, scale)) -}}
{% endmacro %}

{#- A plain division rounds to an engine-chosen scale (Spark 6 or 18 places, Snowflake 12)
    before the cast. Shifted by `scale` places and with its remainder subtracted, the quotient is a whole
    number that every engine divides exactly, and shifting back by a power of ten is exact too.
    Both operands are cast first: PostgreSQL's datediff yields floats, which mod() refuses. -#}
{% macro default__divide_exact(numerator, denominator, scale) -%}
    {%- set decimal = usage_billing.type_decimal() -%}
    {%- set shifted = 'cast(' ~ numerator ~ ' as ' ~ decimal ~ ') * ' ~ 10 ** scale -%}
    {%- set divisor = 'cast(' ~ denominator ~ ' as ' ~ decimal ~ ')' -%}
    cast(
        cast(({{ shifted }} - mod({{ shifted }}, {{ divisor }})) / {{ divisor }} as {{ decimal }})
        / {{ 10 ** scale }}
        as {{ decimal }}
    )
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
