-- A credit purchase (a paid grant's purchase_amount) is billed on the customer's invoice in its
-- currency whose period holds granted_at. Two ways it would vanish silently fail the build, by
-- grant: given by the clock while no invoice holds it (no subscription in that currency then),
-- or held by an invoice already frozen (closed_periods) without it, as when the grant is added
-- after its period was closed: give it a granted_at in an open period instead.
with purchases as (

    select * from {{ ref('usage_billing', 'usage_billing__int_credit_purchases') }}

),

closures as (

    select * from {{ ref('usage_billing', 'usage_billing__int_invoice_closures') }}

),

frozen_lines as (

    select * from {{ ref('usage_billing', 'usage_billing__int_closed_invoice_state') }}

),

frozen_purchases as (

    select distinct credit_grant_id as grant_id
    from frozen_lines
    where line_type = 'credit_purchase'

)

select
    purchases.grant_id as row_id,
    'credit purchase on no invoice: no subscription of the customer in its currency holds granted_at'
        as problem
from purchases
where purchases.invoice_id is null and purchases.granted_at <= {{ usage_billing.as_of_timestamp() }}

union all

select
    purchases.grant_id as row_id,
    'credit purchase on a closed invoice that does not bill it: its period was closed before the grant came'
        as problem
from purchases
inner join closures
    on purchases.invoice_id = closures.invoice_id
left join frozen_purchases
    on purchases.grant_id = frozen_purchases.grant_id
where closures.is_frozen and frozen_purchases.grant_id is null
