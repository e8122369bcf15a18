-- A discount that would take a wrong amount, or apply nowhere unnoticed: exactly one of
-- percent_off (above 0, at most 100) and amount_off (above 0, with its currency); not both a
-- price and a metric; a known customer, and a subscription, price and metric that exist (the
-- subscription the customer's); duration_periods at least 1; discount_id unique.
with discounts as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_discounts') }}

),

customers as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_customers') }}

),

subscriptions as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_subscriptions') }}

),

prices as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_prices') }}

),

known_prices as (

    select distinct price_id from prices

),

metrics as (

    select * from {{ ref('usage_billing', 'usage_billing__int_metric_definitions') }}

),

problems as (

    select
        discount_id,
        'exactly one of percent_off (above 0, at most 100) and amount_off (above 0, with currency)'
            as problem
    from discounts
    where
        (percent_off is null) = (amount_off is null)
        or percent_off <= 0
        or percent_off > 100
        or amount_off <= 0
        or (amount_off is not null and currency is null)

    union all

    select
        discount_id,
        'a discount is on a price or on a metric, not both' as problem
    from discounts
    where price_id is not null and metric_name is not null

    union all

    select
        discount_id,
        'duration_periods must be at least 1 (empty: for ever)' as problem
    from discounts
    where duration_periods < 1

    union all

    select
        discounts.discount_id,
        'unknown customer_id' as problem
    from discounts
    left join customers
        on discounts.customer_id = customers.customer_id
    where customers.customer_id is null

    union all

    select
        discounts.discount_id,
        'subscription_id is not a subscription of the customer' as problem
    from discounts
    left join subscriptions
        on
            discounts.subscription_id = subscriptions.subscription_id
            and discounts.customer_id = subscriptions.customer_id
    where discounts.subscription_id is not null and subscriptions.subscription_id is null

    union all

    select
        discounts.discount_id,
        'unknown price_id' as problem
    from discounts
    left join known_prices
        on discounts.price_id = known_prices.price_id
    where discounts.price_id is not null and known_prices.price_id is null

    union all

    select
        discounts.discount_id,
        'metric is not declared in usage_billing_metrics' as problem
    from discounts
    left join metrics
        on discounts.metric_name = metrics.metric_name
    where discounts.metric_name is not null and metrics.metric_name is null

    union all

    select
        discount_id,
        'discount_id must be unique' as problem
    from discounts
    group by discount_id
    having count(*) > 1

)

select * from problems
