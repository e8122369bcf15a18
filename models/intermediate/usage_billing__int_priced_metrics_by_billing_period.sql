{#- Each metric a billing period prices, with its period's subscription, customer and instants:
    what int_usage_by_billing_period measures usage for. -#}
{{ config(materialized='ephemeral') }}

with prices_by_billing_period as (

    select * from {{ ref('usage_billing', 'usage_billing__int_prices_by_billing_period') }}

),

final as (

    select distinct
        invoice_id,
        subscription_id,
        customer_id,
        period_start,
        period_end,
        metric_name
    from prices_by_billing_period
    where metric_name is not null

)

select * from final
