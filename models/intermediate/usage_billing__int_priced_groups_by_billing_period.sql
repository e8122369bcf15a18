{#- Where events are billed: each metric and group a billing period prices, with its period's
    instants, once per customer whose events it bills (customer_id: the period's own customer,
    and its children when its subscription bills them, int_billing_period_usage_customers). A
    period bills an event of such a customer and its metric at an instant it holds when it
    prices the event's group, or has the metric's default price (no group, or an empty one),
    which pools every group without a price of its own: int_usage_by_billing_period's rule. The
    unbilled usage and its reconciliation test read it. -#}
with prices_by_billing_period as (

    select * from {{ ref('usage_billing', 'usage_billing__int_prices_by_billing_period') }}

),

usage_customers as (

    select * from {{ ref('usage_billing', 'usage_billing__int_billing_period_usage_customers') }}

),

final as (

    select distinct
        prices_by_billing_period.invoice_id,
        usage_customers.usage_customer_id as customer_id,
        prices_by_billing_period.period_start,
        prices_by_billing_period.period_end,
        prices_by_billing_period.metric_name,
        prices_by_billing_period.group_value,
        coalesce(prices_by_billing_period.group_value, '') = '' as is_default_price
    from prices_by_billing_period
    inner join usage_customers
        on prices_by_billing_period.invoice_id = usage_customers.invoice_id
    where prices_by_billing_period.metric_name is not null

)

select * from final
