{#- The lines a price's minimum (a true-up) and maximum (a discount) add to its pricing model's
    lines (an in-advance usage price's true-up included). They compare the rounded lines, so a
    price's lines add up to exactly its minimum or maximum. A minimum is settled when the period
    ends; a cap applies to the running total too. A child priced apart (parent accounts,
    `separate`) has its own minimum and cap, as it has its own lines. -#}
{{ config(materialized='ephemeral') }}

with priced_usage as (

    select * from {{ ref('usage_billing', 'usage_billing__int_prices_with_usage') }}

),

model_lines as (

    select * from {{ ref('usage_billing', 'usage_billing__int_priced_lines_with_usage_true_ups') }}

),

price_totals as (

    select
        priced_usage.invoice_id,
        priced_usage.price_id,
        priced_usage.metric_name,
        priced_usage.group_value,
        priced_usage.child_customer_id,
        priced_usage.description,
        priced_usage.status,
        priced_usage.is_percentage,
        {{ usage_billing.round_money('priced_usage.minimum_amount', 'priced_usage.minor_units') }} as minimum_amount,
        {{ usage_billing.round_money('priced_usage.maximum_amount', 'priced_usage.minor_units') }} as maximum_amount,
        coalesce(sum(model_lines.amount), 0) as price_amount
    from priced_usage
    left join model_lines
        on
            priced_usage.invoice_id = model_lines.invoice_id
            and priced_usage.price_id = model_lines.price_id
            and coalesce(priced_usage.child_customer_id, '') = coalesce(model_lines.child_customer_id, '')
    where
        (priced_usage.minimum_amount is not null or priced_usage.maximum_amount is not null)
        -- An in-advance usage price once: its start level's row (its peak is priced in the true-up).
        and (priced_usage.usage_level is null or priced_usage.usage_level = 'start')
    group by
        priced_usage.invoice_id,
        priced_usage.price_id,
        priced_usage.metric_name,
        priced_usage.group_value,
        priced_usage.child_customer_id,
        priced_usage.description,
        priced_usage.status,
        priced_usage.is_percentage,
        priced_usage.minimum_amount,
        priced_usage.maximum_amount,
        priced_usage.minor_units

),

adjustments as (

    select
        *,
        price_amount < minimum_amount as is_true_up,
        cast(
            case
                when price_amount < minimum_amount then minimum_amount - price_amount
                else maximum_amount - price_amount
            end as {{ usage_billing.type_decimal() }}
        ) as adjustment
    from price_totals
    where
        (price_amount < minimum_amount and status <> 'live')
        or price_amount > maximum_amount

),

final as (

    select
        {{ usage_billing.priced_line_select({
            'line_type': "case when is_true_up then 'minimum_true_up' else 'maximum_discount' end",
            'line_order': 'case when is_true_up then 1000 else 1001 end',
            'description': 'case when is_true_up then '
                ~ dbt.concat(["'Minimum charge true-up - '", 'description'])
                ~ ' else ' ~ dbt.concat(["'Maximum charge discount - '", 'description']) ~ ' end',
            'quantity': 'cast(1 as ' ~ usage_billing.type_decimal() ~ ')',
            'unit_price': 'adjustment',
            'amount': 'adjustment',
            'is_percentage': 'false',
            'billing_timing': 'cast(null as ' ~ dbt.type_string() ~ ')',
            'usage_level': 'cast(null as ' ~ dbt.type_string() ~ ')',
        }) }}
    from adjustments

)

select * from final
