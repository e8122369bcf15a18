-- Subscription and credit fields a price list can get wrong: an anchor day outside 1-31, a
-- negative commitment, credit that is not positive or in whole minor units of its currency, that
-- expires before it is given, or that belongs to no customer or to an undeclared metric; a grant
-- type other than paid or promotional, a purchase_amount on a promotional grant or not positive
-- or not in minor units, a rollover without expires_at, ending before it, or a negative cap.
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

    union all

    select
        grant_id as row_id,
        'grant_type must be paid or promotional' as problem
    from credit_grants
    where grant_type not in ('paid', 'promotional')

    union all

    select
        credit_grants.grant_id as row_id,
        'purchase_amount only on a paid grant, positive and in whole minor units' as problem
    from credit_grants
    left join currencies
        on credit_grants.currency = currencies.currency
    where
        credit_grants.purchase_amount is not null
        and (
            credit_grants.grant_type = 'promotional'
            or credit_grants.purchase_amount <= 0
            or {{ usage_billing.round_money('credit_grants.purchase_amount', 'currencies.minor_units') }}
            <> credit_grants.purchase_amount
        )

    union all

    select
        grant_id as row_id,
        'rollover needs expires_at, a cap not below zero, and rollover_expires_at after expires_at' as problem
    from credit_grants
    where
        ((rollover_cap is not null or rollover_expires_at is not null) and expires_at is null)
        or rollover_cap < 0
        or rollover_expires_at <= expires_at
        or (rollover_expires_at is not null and rollover_cap is null)

)

select * from problems
