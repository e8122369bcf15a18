-- A numbered invoice is a document sent to a customer: it must stay in invoices. One that
-- disappeared (its subscription was deleted or its start moved) fails the build, naming it;
-- its number is never reused. Restore the subscription, or cancel the invoice in your books.
with invoice_numbers as (

    select * from {{ ref('usage_billing', 'usage_billing__invoice_numbers') }}

),

invoices as (

    select * from {{ ref('usage_billing', 'usage_billing__invoices') }}

)

select
    invoice_numbers.invoice_id,
    invoice_numbers.invoice_number,
    'numbered invoice no longer in invoices' as problem
from invoice_numbers
left join invoices
    on invoice_numbers.invoice_id = invoices.invoice_id
where invoices.invoice_id is null
