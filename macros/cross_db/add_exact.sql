{#- left + right and left - right, exact at `scale` places (10 for quantities and amounts, 20
    for a sum with a product of multiply_exact). -#}
{% macro add_exact(left, right, scale=10) %}
    {{- return(adapter.dispatch('add_exact', 'usage_billing')(left, '+', right, scale)) -}}
{% endmacro %}

{% macro subtract_exact(left, right, scale=10) %}
    {{- return(adapter.dispatch('add_exact', 'usage_billing')(left, '-', right, scale)) -}}
{% endmacro %}

{#- In parentheses: the result is often an operand of multiply_exact. -#}
{% macro default__add_exact(left, operator, right, scale) -%}
    ({{ left }} {{ operator }} {{ right }})
{%- endmacro %}

{#- Spark, at its default allowPrecisionLoss, cuts the sum of two decimal(38, 10) to 9 places
    (39 digits would be needed). As decimal(37, scale) both fit the sum in 38 digits. -#}
{% macro spark__add_exact(left, operator, right, scale) -%}
    (
        cast({{ left }} as decimal(37, {{ scale }}))
        {{ operator }} cast({{ right }} as decimal(37, {{ scale }}))
    )
{%- endmacro %}
