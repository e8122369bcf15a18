{#- Each metric a billing period prices, with its period's subscription, customer and instants,
    once per customer whose events it bills (int_billing_period_usage_customers): what
    int_usage_by_billing_period measures usage for. usage_customer_id is the customer of the
    events counted; child_customer_id the child priced apart (empty: the period's own usage). -#}
{{ config(materialized='ephemeral') }}

with prices_by_billing_period as (

    select * from {{ ref('usage_billing', 'usage_billing__int_prices_by_billing_period') }}

),

usage_customers as (

    select * from {{ ref('usage_billing', 'usage_billing__int_billing_period_usage_customers') }}

),

priced_metrics as (

    select distinct
        invoice_id,
        subscription_id,
        customer_id,
        period_start,
        period_end,
        metric_name
    from prices_by_billing_period
    where metric_name is not null

),

final as (

    select
        priced_metrics.*,
        usage_customers.usage_customer_id,
        usage_customers.child_customer_id
    from priced_metrics
    inner join usage_customers
        on priced_metrics.invoice_id = usage_customers.invoice_id

)

select * from final
