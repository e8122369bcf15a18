{#- One row per invoice line of a price, before numbering: each price of the period turned into
    amounts by its pricing model (a model each: int_priced_lines_flat, _per_unit,
    _package, _graduated, _volume, _per_transaction; an in-advance usage price's true-up,
    int_priced_lines_with_usage_true_ups), then the price's minimum (a true-up line)
    and maximum (a discount line), int_priced_lines_adjustments. Amounts are rounded
    per line to the currency's minor units; minimums and caps compare the rounded lines, so a
    price's lines add up to exactly its minimum or maximum. -#}

with model_lines as (

    select * from {{ ref('usage_billing', 'usage_billing__int_priced_lines_with_usage_true_ups') }}

),

adjustment_lines as (

    select * from {{ ref('usage_billing', 'usage_billing__int_priced_lines_adjustments') }}

),

final as (

    select
        {{ usage_billing.priced_line_names('model_lines') }}
    from model_lines
    union all
    select
        {{ usage_billing.priced_line_names('adjustment_lines') }}
    from adjustment_lines

)

select * from final
