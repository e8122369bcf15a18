{#- The part of `amount` that falls to one row when it is shared among rows in proportion to
    their weights, to the minor unit, the rows in a fixed order: the amount times the weight up
    to and including the row, less the amount times the weight before it, each over the total
    weight and rounded half-up. The parts add up to `amount` exactly and no part is more than a
    minor unit off its proportion. When every weight is zero the first row (`position` 1) takes
    it all. `amount` must already be in minor units. -#}
{% macro proportional_share(amount, weight_before, weight_through, weight_total, position, minor_units) -%}
    {%- set amount, weight_before, weight_through, weight_total = (
        '(' ~ amount ~ ')', '(' ~ weight_before ~ ')', '(' ~ weight_through ~ ')', '(' ~ weight_total ~ ')'
    ) -%}
    case
        when {{ weight_total }} = 0 then case when {{ position }} = 1 then {{ amount }} else 0 end
        else
            {{ usage_billing.round_money(usage_billing.divide_exact(
                usage_billing.multiply_exact(amount, weight_through), weight_total, 10
            ), minor_units) }}
            - {{ usage_billing.round_money(usage_billing.divide_exact(
                usage_billing.multiply_exact(amount, weight_before), weight_total, 10
            ), minor_units) }}
    end
{%- endmacro %}
