-- Subscription and credit fields a price list can get wrong: an anchor day outside 1-31, a
-- negative commitment, credit that is not positive or in whole minor units of its currency, that
-- expires before it is given, or that belongs to no customer or to an undeclared metric.
with subscriptions as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_subscriptions') }}

),

credit_grants as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_credit_grants') }}

),

customers as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_customers') }}

),

currencies as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_currencies') }}

),

metrics as (

    select * from {{ ref('usage_billing', 'usage_billing__int_metric_definitions') }}

),

problems as (

    select
        subscription_id as row_id,
        'billing_anchor_day must be 1 to 31' as problem
    from subscriptions
    where billing_anchor_day < 1 or billing_anchor_day > 31

    union all

    select
        subscription_id as row_id,
        'minimum_amount must not be negative' as problem
    from subscriptions
    where minimum_amount < 0

    union all

    select
        credit_grants.grant_id as row_id,
        'credit amount must be positive and in whole minor units of a known currency' as problem
    from credit_grants
    left join currencies
        on credit_grants.currency = currencies.currency
    where
        not coalesce(credit_grants.amount > 0, false)
        or currencies.currency is null
        or {{ usage_billing.round_money('credit_grants.amount', 'currencies.minor_units') }} <> credit_grants.amount

    union all

    select
        grant_id as row_id,
        'credit needs granted_at, and expires_at after it' as problem
    from credit_grants
    where granted_at is null or expires_at <= granted_at

    union all

    select
        credit_grants.grant_id as row_id,
        'credit for an unknown customer' as problem
    from credit_grants
    left join customers
        on credit_grants.customer_id = customers.customer_id
    where customers.customer_id is null

    union all

    select
        credit_grants.grant_id as row_id,
        'credit scoped to an undeclared metric' as problem
    from credit_grants
    left join metrics
        on credit_grants.metric_name = metrics.metric_name
    where credit_grants.metric_name is not null and metrics.metric_name is null

)

select * from problems
