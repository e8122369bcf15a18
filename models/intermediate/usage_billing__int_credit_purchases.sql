{#- What customers pay for the credit they buy (docs/pricing.md, "Prepaid credits"): one row per
    paid grant with a purchase_amount, and the invoice that bills it - the customer's invoice in
    the grant's currency whose period holds granted_at (periods run between local midnights, so
    this compares local dates), of the first subscription by subscription_id when several do.
    invoice_id is empty while no such invoice exists: assert_credit_purchases_are_billed fails
    the build for a purchase granted before the clock that no invoice bills. -#}

with credit_grants as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_credit_grants') }}

),

billing_periods as (

    select * from {{ ref('usage_billing', 'usage_billing__int_billing_periods') }}

),

purchases as (

    select
        grant_id,
        customer_id,
        currency,
        granted_at,
        purchase_amount
    from credit_grants
    where purchase_amount is not null and grant_type = 'paid'

),

holding_periods as (

    select
        purchases.grant_id,
        billing_periods.invoice_id,
        row_number() over (
            partition by purchases.grant_id order by billing_periods.subscription_id
        ) as subscription_position
    from purchases
    inner join billing_periods
        on
            purchases.customer_id = billing_periods.customer_id
            and purchases.currency = billing_periods.currency
            and purchases.granted_at >= billing_periods.period_start
            and purchases.granted_at < billing_periods.period_end

),

final as (

    select
        purchases.grant_id,
        purchases.customer_id,
        purchases.currency,
        purchases.granted_at,
        cast(purchases.purchase_amount as {{ usage_billing.type_decimal() }}) as purchase_amount,
        holding_periods.invoice_id
    from purchases
    left join holding_periods
        on purchases.grant_id = holding_periods.grant_id and holding_periods.subscription_position = 1

)

select * from final
