{#- numerator / denominator as an exact decimal, rounded half-up (half away from zero) to `scale`
    places, as OpenMeter and Lago round: 5/3 is 1.6666666667 at 10 places, -5/3 -1.6666666667. -#}
{% macro divide_exact(numerator, denominator, scale=10) %}
    {{- return(adapter.dispatch('divide_exact', 'usage_billing')(numerator, denominator, scale)) -}}
{% endmacro %}

{#- A plain division rounds to an engine-chosen scale (Spark 6 or 18 places, Snowflake 12)
    before the cast. Shifted by `scale` places and with its remainder subtracted, the quotient is a whole
    number that every engine divides exactly, and shifting back by a power of ten is exact too.
    The remainder decides the rounding: at least half the divisor rounds the quotient away from
    zero (mod() takes the dividend's sign on every engine, so the quotient is truncated toward zero
    first). Spark has its own version below.
    Both operands are cast first: PostgreSQL's datediff yields floats, which mod() refuses. -#}
{% macro default__divide_exact(numerator, denominator, scale) -%}
    {%- set decimal = usage_billing.type_decimal() -%}
    {{ usage_billing.divide_shifted(
        'cast(' ~ numerator ~ ' as ' ~ decimal ~ ') * ' ~ 10 ** scale,
        'cast(' ~ denominator ~ ' as ' ~ decimal ~ ')',
        decimal,
        10 ** scale,
    ) }}
{%- endmacro %}

{#- Spark, at its default allowPrecisionLoss (a Databricks SQL warehouse allows no other), rounds a
    difference of decimal(38, 10) values to 9 places and a quotient to 6. Whole numbers as
    decimal(38, 0) lose nothing (their scale is 0 already), so the division runs on the values
    shifted to whole numbers, as DuckDB's below. Shifting back divides by 10^scale typed
    decimal(scale + 1, 0), which keeps `scale` places of a quotient below 10^28. -#}
{% macro spark__divide_exact(numerator, denominator, scale) -%}
    {%- set decimal = usage_billing.type_decimal() -%}
    {{ usage_billing.divide_shifted(
        'cast(cast(' ~ numerator ~ ' as ' ~ decimal ~ ') * 10000000000 as decimal(38, 0)) * ' ~ 10 ** scale,
        'cast(cast(' ~ denominator ~ ' as ' ~ decimal ~ ') * 10000000000 as decimal(38, 0))',
        'decimal(28, 0)',
        'cast(' ~ 10 ** scale ~ ' as decimal(' ~ (scale + 1) ~ ', 0))',
    ) }}
{%- endmacro %}

{#- The rounded quotient of `shifted` (the numerator times 10^scale) by `divisor`, cast to
    `quotient_type`, divided back by `power` (10^scale): the rounding described above. -#}
{% macro divide_shifted(shifted, divisor, quotient_type, power) -%}
    {%- set remainder = 'mod(' ~ shifted ~ ', ' ~ divisor ~ ')' -%}
    cast(
        cast(
            ({{ shifted }} - {{ remainder }}) / {{ divisor }}
            + case
                when abs({{ divisor }}) - abs({{ remainder }}) <= abs({{ remainder }})
                    then case when ({{ shifted }} < 0) = ({{ divisor }} < 0) then 1 else -1 end
                else 0
            end
            as {{ quotient_type }}
        )
        / {{ power }}
        as {{ usage_billing.type_decimal() }}
    )
{%- endmacro %}

{#- DuckDB divides decimals in floating point; integer division of scaled values stays exact.
    Its // truncates toward zero and % takes the dividend's sign, as mod() above. -#}
{% macro duckdb__divide_exact(numerator, denominator, scale) -%}
    {%- set shifted = 'cast((' ~ numerator ~ ') * 10000000000 as hugeint) * ' ~ 10 ** scale -%}
    {%- set divisor = 'cast((' ~ denominator ~ ') * 10000000000 as hugeint)' -%}
    (
        cast(
            {{ shifted }} // {{ divisor }}
            + case
                when abs({{ divisor }}) - abs({{ shifted }} % {{ divisor }}) <= abs({{ shifted }} % {{ divisor }})
                    then case when ({{ shifted }} < 0) = ({{ divisor }} < 0) then 1 else -1 end
                else 0
            end
            as decimal(38, 0)
        ) * cast('0.{{ '0' * (scale - 1) }}1' as decimal(38, {{ scale }}))
    )
{%- endmacro %}
