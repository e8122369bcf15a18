{#- An amount rounded half-up (away from zero) to its currency's minor units. ISO 4217 uses
    0, 2, 3 and 4 places; a case keeps each precision constant, as DuckDB's round requires, and
    each branch is cast on its own so the case cannot widen into an inexact common type.
    A currency without minor units (gold, test codes) yields null, which the marts' tests reject. -#}
{% macro round_money(amount, minor_units) -%}
    case {{ minor_units }}
        {%- for places in [0, 2, 3, 4] %}
        when {{ places }} then cast(round({{ amount }}, {{ places }}) as {{ usage_billing.type_decimal() }})
        {%- endfor %}
    end
{%- endmacro %}
