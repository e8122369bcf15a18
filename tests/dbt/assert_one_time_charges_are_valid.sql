-- A one-time fee that could bill wrongly or never: cadence is every_period or one_time; a
-- one_time price is a flat fee, not prorated (it is billed whole, once); charge_date belongs to
-- a one_time fee and lies inside its own version (effective_from to effective_to), and, for a
-- subscription's own price, inside the subscription (start_date to end_date), or no period
-- would ever hold it.
with prices as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_prices') }}

),

subscriptions as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_subscriptions') }}

),

problems as (

    select
        price_id,
        'cadence must be every_period or one_time' as problem
    from prices
    where cadence not in ('every_period', 'one_time')

    union all

    select
        price_id,
        'a one_time price must be a flat fee, not prorated' as problem
    from prices
    where cadence = 'one_time' and (pricing_model <> 'flat' or is_prorated)

    union all

    select
        price_id,
        'charge_date is for one_time prices, inside effective_from and effective_to' as problem
    from prices
    where
        charge_date is not null
        and (
            cadence <> 'one_time'
            or charge_date < effective_from
            or (effective_to is not null and charge_date >= effective_to)
        )

    union all

    select
        prices.price_id,
        'charge_date outside its subscription: no invoice would bill it' as problem
    from prices
    inner join subscriptions
        on prices.subscription_id = subscriptions.subscription_id
    where
        prices.charge_date < subscriptions.start_date
        or (subscriptions.end_date is not null and prices.charge_date >= subscriptions.end_date)

)

select * from problems
