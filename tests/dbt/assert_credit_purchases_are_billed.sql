-- A credit purchase (a paid grant's purchase_amount) is billed on the customer's invoice in its
-- currency whose period holds granted_at. One given by the clock that no invoice holds (no
-- subscription in that currency then) would vanish silently: it fails the build, by grant.
with purchases as (

    select * from {{ ref('usage_billing', 'usage_billing__int_credit_purchases') }}

)

select
    grant_id as row_id,
    'credit purchase on no invoice: no subscription of the customer in its currency holds granted_at'
        as problem
from purchases
where invoice_id is null and granted_at <= {{ usage_billing.as_of_timestamp() }}
