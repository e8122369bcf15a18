-- Pricing features whose columns exist in the contract but are not computed yet must fail the
-- build instead of being ignored (an ignored minimum or time zone is a wrong invoice).
with prices as (

    select * from {{ ref('stg_prices') }}

),

subscriptions as (

    select * from {{ ref('stg_subscriptions') }}

),

customers as (

    select * from {{ ref('stg_customers') }}

),

unsupported as (

    select
        price_id as row_id,
        'price: free_units, transaction fees, minimum or maximum amount' as feature
    from prices
    where
        free_units is not null
        or transaction_fixed_fee is not null
        or transaction_minimum is not null
        or transaction_maximum is not null
        or minimum_amount is not null
        or maximum_amount is not null

    union all

    select
        price_id as row_id,
        'price: in_advance billing or proration' as feature
    from prices
    where billing_timing <> 'in_arrears' or is_prorated

    union all

    select
        subscription_id as row_id,
        'subscription: minimum_amount or billing_anchor_day other than 1' as feature
    from subscriptions
    where minimum_amount is not null or billing_anchor_day <> 1

    union all

    select
        customer_id as row_id,
        'customer: time zone other than UTC' as feature
    from customers
    where timezone <> 'UTC'

)

select * from unsupported
