{#- Every movement of prepaid credit in time order, per customer and currency (docs/pricing.md,
    "Prepaid credits"): a grant adds its amount at granted_at, a final invoice's draw takes it
    off at the invoice's period_end, and once the clock has passed them, the part beyond the
    rollover cap leaves at expires_at (rollover_expiry) and what is left at the last expiry
    (expiry). A grant's movements add up to its remaining_amount in credit_balances
    (assert_credit_ledger_adds_up). -#}

with balances as (

    select * from {{ ref('usage_billing', 'usage_billing__credit_balances') }}

),

invoice_lines as (

    select * from {{ ref('usage_billing', 'usage_billing__invoice_lines') }}

),

billing_periods as (

    select * from {{ ref('usage_billing', 'usage_billing__int_billing_periods') }}

),

draws as (

    select
        invoice_lines.credit_grant_id as grant_id,
        invoice_lines.invoice_id,
        billing_periods.period_end,
        invoice_lines.amount,
        case when balances.expires_at < billing_periods.period_end then 0 else invoice_lines.amount end
            as amount_before_expiry
    from invoice_lines
    inner join billing_periods
        on invoice_lines.invoice_id = billing_periods.invoice_id
    inner join balances
        on invoice_lines.credit_grant_id = balances.grant_id
    where invoice_lines.line_type = 'credit'

),

beyond_cap as (

    -- What the grant had left at expires_at beyond its cap: gone at expires_at.
    select
        balances.grant_id,
        balances.granted_amount + coalesce(sum(draws.amount_before_expiry), 0) - balances.rolled_over_amount
            as amount
    from balances
    left join draws
        on balances.grant_id = draws.grant_id
    where balances.rollover_cap is not null and balances.expires_at <= balances.as_of_at
    group by balances.grant_id, balances.granted_amount, balances.rolled_over_amount

),

movements as (

    select
        grant_id,
        cast(null as {{ dbt.type_string() }}) as invoice_id,
        'grant' as movement_type,
        1 as type_order,
        granted_at as movement_at,
        granted_amount as amount
    from balances
    union all
    select
        grant_id,
        invoice_id,
        'draw' as movement_type,
        2 as type_order,
        period_end as movement_at,
        amount
    from draws
    union all
    select
        balances.grant_id,
        cast(null as {{ dbt.type_string() }}) as invoice_id,
        'rollover_expiry' as movement_type,
        3 as type_order,
        balances.expires_at as movement_at,
        0 - beyond_cap.amount as amount
    from balances
    inner join beyond_cap
        on balances.grant_id = beyond_cap.grant_id
    where beyond_cap.amount > 0
    union all
    select
        balances.grant_id,
        cast(null as {{ dbt.type_string() }}) as invoice_id,
        'expiry' as movement_type,
        4 as type_order,
        case when balances.rollover_cap is null then balances.expires_at else balances.rollover_expires_at end
            as movement_at,
        0 - (balances.expired_amount - coalesce(beyond_cap.amount, 0)) as amount
    from balances
    left join beyond_cap
        on balances.grant_id = beyond_cap.grant_id
    where balances.expired_amount - coalesce(beyond_cap.amount, 0) > 0

),

final as (

    select
        balances.customer_id,
        balances.currency,
        row_number() over (
            partition by balances.customer_id, balances.currency
            order by movements.movement_at, movements.type_order, movements.grant_id, movements.invoice_id
        ) as movement_number,
        movements.movement_at,
        movements.movement_type,
        movements.grant_id,
        balances.grant_type,
        movements.invoice_id,
        cast(movements.amount as {{ usage_billing.type_decimal() }}) as amount,
        cast(sum(movements.amount) over (
            partition by balances.customer_id, balances.currency
            order by movements.movement_at, movements.type_order, movements.grant_id, movements.invoice_id
            rows between unbounded preceding and current row
        ) as {{ usage_billing.type_decimal() }}) as balance_after,
        balances.as_of_at
    from movements
    inner join balances
        on movements.grant_id = balances.grant_id

)

select * from final
