-- Every grant's movements in the credit ledger (grant, draws, expiries) add up to what
-- credit_balances says it has left, and each customer's running balance ends there too.
with ledger as (

    select * from {{ ref('usage_billing', 'usage_billing__credit_ledger') }}

),

balances as (

    select * from {{ ref('usage_billing', 'usage_billing__credit_balances') }}

),

per_grant as (

    select
        grant_id,
        sum(amount) as ledger_amount
    from ledger
    group by grant_id

),

last_balances as (

    select
        customer_id,
        currency,
        balance_after,
        row_number() over (
            partition by customer_id, currency order by movement_number desc
        ) as position_from_end
    from ledger

),

remaining_by_customer as (

    select
        customer_id,
        currency,
        sum(remaining_amount) as remaining_amount
    from balances
    group by customer_id, currency

)

select
    balances.grant_id as row_id,
    'ledger movements do not add up to remaining_amount' as problem
from balances
left join per_grant
    on balances.grant_id = per_grant.grant_id
where coalesce(per_grant.ledger_amount, 0) <> balances.remaining_amount

union all

select
    remaining_by_customer.customer_id as row_id,
    'last balance_after is not the remaining credit' as problem
from remaining_by_customer
left join last_balances
    on
        remaining_by_customer.customer_id = last_balances.customer_id
        and remaining_by_customer.currency = last_balances.currency
        and last_balances.position_from_end = 1
where coalesce(last_balances.balance_after, 0) <> remaining_by_customer.remaining_amount
