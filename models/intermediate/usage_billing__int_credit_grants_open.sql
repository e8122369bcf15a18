{#- Prepaid credit grants as open invoices see them: each grant's amount less what closed
    invoices drew from it when they were frozen (those draws never change), never below zero,
    and its rollover_cap less what frozen invoices ending after its expiry drew (those come after
    every invoice before it, so the rest of the rollover is what is left of the cap).
    int_credit_draws draws down these amounts; credit_balances adds both up again. -#}

with credit_grants as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_credit_grants') }}

),

frozen_lines as (

    select * from {{ ref('usage_billing', 'usage_billing__int_closed_invoice_state') }}

),

billing_periods as (

    select * from {{ ref('usage_billing', 'usage_billing__int_billing_periods') }}

),

frozen_draws as (

    select
        frozen_lines.credit_grant_id as grant_id,
        0 - sum(frozen_lines.amount) as drawn,
        0 - sum(
            case when credit_grants.expires_at < billing_periods.period_end then frozen_lines.amount else 0 end
        ) as drawn_after_expiry
    from frozen_lines
    inner join credit_grants
        on frozen_lines.credit_grant_id = credit_grants.grant_id
    left join billing_periods
        on frozen_lines.invoice_id = billing_periods.invoice_id
    where frozen_lines.line_type = 'credit'
    group by frozen_lines.credit_grant_id

),

final as (

    select
        credit_grants.grant_id,
        credit_grants.customer_id,
        credit_grants.currency,
        cast(
            case
                when credit_grants.amount - coalesce(frozen_draws.drawn, 0) > 0
                    then credit_grants.amount - coalesce(frozen_draws.drawn, 0)
                else 0
            end as {{ usage_billing.type_decimal() }}
        ) as amount,
        credit_grants.granted_at,
        credit_grants.expires_at,
        credit_grants.priority,
        credit_grants.metric_name,
        credit_grants.grant_type,
        cast(
            case
                when credit_grants.rollover_cap - coalesce(frozen_draws.drawn_after_expiry, 0) > 0
                    then credit_grants.rollover_cap - coalesce(frozen_draws.drawn_after_expiry, 0)
                when credit_grants.rollover_cap is not null then 0
            end as {{ usage_billing.type_decimal() }}
        ) as rollover_cap,
        credit_grants.rollover_expires_at
    from credit_grants
    left join frozen_draws
        on credit_grants.grant_id = frozen_draws.grant_id

)

select * from final
