-- Nothing billed twice, nothing lost (docs/usage-controls.md, "Threshold billing"): every
-- threshold invoice of an ended period is netted exactly once, by its own subtotal, on the
-- period's invoice, so the period's charges are the threshold invoices' subtotals plus what its
-- own invoice still bills. (A live period nets a threshold invoice from the build after the one
-- issuing it.)
with invoices as (

    select * from {{ ref('usage_billing', 'usage_billing__invoices') }}

),

invoice_lines as (

    select * from {{ ref('usage_billing', 'usage_billing__invoice_lines') }}

),

issued as (

    select
        threshold_invoices.invoice_id as threshold_invoice_id,
        threshold_invoices.threshold_of_invoice_id as invoice_id,
        threshold_invoices.subtotal
    from invoices as threshold_invoices
    inner join invoices as periods
        on threshold_invoices.threshold_of_invoice_id = periods.invoice_id
    where threshold_invoices.invoice_kind = 'threshold' and periods.status <> 'live'

),

netted as (

    select
        invoice_lines.invoice_id,
        invoice_lines.adjusted_invoice_id as threshold_invoice_id,
        count(*) as netting_lines,
        0 - sum(invoice_lines.amount) as netted_amount
    from invoice_lines
    inner join invoices
        on invoice_lines.invoice_id = invoices.invoice_id
    -- A threshold invoice nets the ones before it too; each is checked by its period's invoice.
    where
        invoice_lines.line_type = 'threshold_billed'
        and invoices.invoice_kind = 'period'
        and invoices.status <> 'live'
    group by invoice_lines.invoice_id, invoice_lines.adjusted_invoice_id

)

select
    issued.invoice_id,
    issued.threshold_invoice_id,
    issued.subtotal,
    netted.invoice_id as netting_invoice_id,
    netted.threshold_invoice_id as netted_invoice_id,
    netted.netted_amount,
    netted.netting_lines
from issued
full outer join netted
    on issued.invoice_id = netted.invoice_id and issued.threshold_invoice_id = netted.threshold_invoice_id
where
    issued.threshold_invoice_id is null
    or netted.threshold_invoice_id is null
    or netted.netting_lines <> 1
    or netted.netted_amount <> issued.subtotal
