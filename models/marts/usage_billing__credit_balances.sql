with credit_grants as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_credit_grants') }}

),

invoice_lines as (

    -- The credit lines as invoiced: frozen draws of closed invoices, computed ones of the rest.
    select * from {{ ref('usage_billing', 'usage_billing__invoice_lines') }}

),

clock as (

    select {{ usage_billing.as_of_timestamp() }} as as_of_at

),

used as (

    select
        credit_grant_id as grant_id,
        0 - sum(amount) as used_amount,
        count(*) as invoice_count
    from invoice_lines
    where line_type = 'credit'
    group by credit_grant_id

),

final as (

    select
        credit_grants.grant_id,
        credit_grants.customer_id,
        credit_grants.currency,
        credit_grants.metric_name,
        credit_grants.priority,
        credit_grants.granted_at,
        credit_grants.expires_at,
        credit_grants.amount as granted_amount,
        cast(coalesce(used.used_amount, 0) as {{ usage_billing.type_decimal() }}) as used_amount,
        cast(
            case
                when credit_grants.expires_at <= clock.as_of_at
                    then credit_grants.amount - coalesce(used.used_amount, 0)
                else 0
            end as {{ usage_billing.type_decimal() }}
        ) as expired_amount,
        cast(
            case
                when credit_grants.expires_at <= clock.as_of_at then 0
                else credit_grants.amount - coalesce(used.used_amount, 0)
            end as {{ usage_billing.type_decimal() }}
        ) as remaining_amount,
        coalesce(used.invoice_count, 0) as invoice_count,
        case
            when credit_grants.granted_at > clock.as_of_at then 'scheduled'
            when credit_grants.expires_at <= clock.as_of_at then 'expired'
            when credit_grants.amount - coalesce(used.used_amount, 0) <= 0 then 'used_up'
            else 'active'
        end as status,
        clock.as_of_at
    from credit_grants
    cross join clock
    left join used
        on credit_grants.grant_id = used.grant_id

)

select * from final
