{#- Each prepaid credit grant as of the clock (docs/pricing.md, "Prepaid credits"). Draws come
    from the credit lines as invoiced (frozen ones of closed invoices, computed ones of the rest).
    At expires_at what the grant has left expires, except up to rollover_cap of it, which rolls
    over until rollover_expires_at (empty: never) and expires then. -#}

with credit_grants as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_credit_grants') }}

),

invoice_lines as (

    select * from {{ ref('usage_billing', 'usage_billing__invoice_lines') }}

),

billing_periods as (

    select * from {{ ref('usage_billing', 'usage_billing__int_billing_periods') }}

),

clock as (

    select {{ usage_billing.as_of_timestamp() }} as as_of_at

),

used as (

    select
        invoice_lines.credit_grant_id as grant_id,
        0 - sum(invoice_lines.amount) as used_amount,
        0 - sum(
            case
                when credit_grants.expires_at < billing_periods.period_end then 0 else invoice_lines.amount
            end
        ) as used_before_expiry,
        count(*) as invoice_count
    from invoice_lines
    inner join credit_grants
        on invoice_lines.credit_grant_id = credit_grants.grant_id
    left join billing_periods
        on invoice_lines.invoice_id = billing_periods.invoice_id
    where invoice_lines.line_type = 'credit'
    group by invoice_lines.credit_grant_id

),

states as (

    select
        credit_grants.*,
        clock.as_of_at,
        coalesce(used.used_amount, 0) as used_amount,
        coalesce(used.invoice_count, 0) as invoice_count,
        coalesce(credit_grants.expires_at <= clock.as_of_at, false) as is_past_expiry,
        coalesce(
            credit_grants.expires_at <= clock.as_of_at
            and (credit_grants.rollover_cap is null or credit_grants.rollover_expires_at <= clock.as_of_at),
            false
        ) as is_past_rollover,
        -- What rolled over at expires_at: what was left then, at most the cap.
        case
            when not coalesce(credit_grants.expires_at <= clock.as_of_at, false) or credit_grants.rollover_cap is null
                then 0
            when credit_grants.amount - coalesce(used.used_before_expiry, 0) > credit_grants.rollover_cap
                then credit_grants.rollover_cap
            else credit_grants.amount - coalesce(used.used_before_expiry, 0)
        end as rolled_over_amount,
        credit_grants.amount - coalesce(used.used_before_expiry, 0) as left_at_expiry
    from credit_grants
    cross join clock
    left join used
        on credit_grants.grant_id = used.grant_id

),

amounts as (

    select
        *,
        case
            when is_past_rollover then amount - used_amount
            when is_past_expiry then left_at_expiry - rolled_over_amount
            else 0
        end as expired_amount
    from states

),

final as (

    select
        grant_id,
        customer_id,
        currency,
        metric_name,
        priority,
        grant_type,
        granted_at,
        expires_at,
        amount as granted_amount,
        cast(purchase_amount as {{ usage_billing.type_decimal() }}) as purchase_amount,
        cast(rollover_cap as {{ usage_billing.type_decimal() }}) as rollover_cap,
        rollover_expires_at,
        cast(used_amount as {{ usage_billing.type_decimal() }}) as used_amount,
        cast(rolled_over_amount as {{ usage_billing.type_decimal() }}) as rolled_over_amount,
        cast(expired_amount as {{ usage_billing.type_decimal() }}) as expired_amount,
        cast(amount - used_amount - expired_amount as {{ usage_billing.type_decimal() }}) as remaining_amount,
        invoice_count,
        case
            when granted_at > as_of_at then 'scheduled'
            when is_past_rollover or (is_past_expiry and rolled_over_amount = 0) then 'expired'
            when amount - used_amount - expired_amount <= 0 then 'used_up'
            when is_past_expiry then 'rolled_over'
            else 'active'
        end as status,
        as_of_at
    from amounts

)

select * from final
