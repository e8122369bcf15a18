{#- Where events are billed: each metric and group a billing period prices, with its period's
    customer and instants. A period bills an event of its customer and metric at an instant it
    holds when it prices the event's group, or has the metric's default price (no group, or an
    empty one), which pools every group without a price of its own: int_usage_by_billing_period's
    rule. The unbilled usage and its reconciliation test read it. -#}
with prices_by_billing_period as (

    select * from {{ ref('usage_billing', 'usage_billing__int_prices_by_billing_period') }}

),

final as (

    select distinct
        invoice_id,
        customer_id,
        period_start,
        period_end,
        metric_name,
        group_value,
        coalesce(group_value, '') = '' as is_default_price
    from prices_by_billing_period
    where metric_name is not null

)

select * from final
