-- A subscription's threshold_billing_amount (docs/usage-controls.md, "Threshold billing") must be
-- positive and in whole minor units of its currency: an early invoice for a fraction of a cent,
-- or at every build, is a mistake in the subscription.
with subscriptions as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_subscriptions') }}

),

currencies as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_currencies') }}

)

select
    subscriptions.subscription_id,
    subscriptions.threshold_billing_amount,
    'threshold_billing_amount must be positive and in whole minor units of the currency' as problem
from subscriptions
left join currencies
    on subscriptions.currency = currencies.currency
where
    subscriptions.threshold_billing_amount is not null
    and (
        subscriptions.threshold_billing_amount <= 0
        or currencies.currency is null
        or {{ usage_billing.round_money('subscriptions.threshold_billing_amount', 'currencies.minor_units') }}
        <> subscriptions.threshold_billing_amount
    )
