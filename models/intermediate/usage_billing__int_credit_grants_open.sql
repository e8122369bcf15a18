{#- Prepaid credit grants as open invoices see them: each grant's amount less what closed
    invoices drew from it when they were frozen (those draws never change), never below zero.
    int_credit_draws draws down these amounts; credit_balances adds both up again. -#}

with credit_grants as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_credit_grants') }}

),

frozen_lines as (

    select * from {{ ref('usage_billing', 'usage_billing__int_closed_invoice_state') }}

),

frozen_draws as (

    select
        credit_grant_id as grant_id,
        0 - sum(amount) as drawn
    from frozen_lines
    where line_type = 'credit'
    group by credit_grant_id

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
        credit_grants.metric_name
    from credit_grants
    left join frozen_draws
        on credit_grants.grant_id = frozen_draws.grant_id

)

select * from final
