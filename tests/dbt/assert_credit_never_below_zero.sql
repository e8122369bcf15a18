-- Prepaid credit never goes below zero: no grant pays out more than it holds, no invoice is paid
-- below zero, and only final invoices draw.
with grants_overdrawn as (

    select
        grant_id as row_id,
        'grant drawn beyond its amount' as problem
    from {{ ref('usage_billing', 'usage_billing__credit_balances') }}
    where used_amount > granted_amount or remaining_amount < 0 or expired_amount < 0

),

invoices_overpaid as (

    select
        invoice_id as row_id,
        'invoice paid below zero, or credit on an invoice that is not final' as problem
    from {{ ref('usage_billing', 'usage_billing__invoices') }}
    where
        (credits_applied > 0 and (total < 0 or status <> 'final'))
        or credits_applied < 0

)

select * from grants_overdrawn
union all
select * from invoices_overpaid
