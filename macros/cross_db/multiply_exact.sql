{#- left * right, exact: the product of two decimals of at most 10 places has up to 20, and
    every engine but Spark keeps them (DuckDB's type is decimal(38, 20)). -#}
{% macro multiply_exact(left, right) %}
    {{- return(adapter.dispatch('multiply_exact', 'usage_billing')(left, right)) -}}
{% endmacro %}

{% macro default__multiply_exact(left, right) -%}
    {{ left }} * {{ right }}
{%- endmacro %}

{#- Spark, at its default allowPrecisionLoss (all a Databricks SQL warehouse allows), cuts a
    product of two decimal(38, 10) to 6 places. Its operand types must fit the product in 38
    digits, so left is split into its whole part and its fraction (mod takes left's sign), each
    multiplied by right as decimal(19, 10): 18 + 19 and 10 + 19 digits, both exact, summed as
    decimal(37, 20). Exact while left's whole part is below 10^18, |right| below 10^9 and the
    product below 10^17; beyond, a cast overflows (an error in ANSI mode, the default of Spark 4
    and of SQL warehouses). -#}
{% macro spark__multiply_exact(left, right) -%}
    {%- set factor = 'cast(' ~ right ~ ' as decimal(19, 10))' -%}
    (
        cast(cast({{ left }} - mod({{ left }}, 1) as decimal(18, 0)) * {{ factor }} as decimal(37, 20))
        + cast(mod({{ left }}, 1) as decimal(10, 10)) * {{ factor }}
    )
{%- endmacro %}

{#- `value` in multiply_exact's result type, where a case also yields a product: Spark widens
    decimal(38, 10) and decimal(38, 20) to 10 places, in a comparison too. -#}
{% macro as_product(value) %}
    {{- return(adapter.dispatch('as_product', 'usage_billing')(value)) -}}
{% endmacro %}

{% macro default__as_product(value) -%}
    {{ value }}
{%- endmacro %}

{% macro spark__as_product(value) -%}
    cast({{ value }} as decimal(38, 20))
{%- endmacro %}
