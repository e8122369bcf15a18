-- Every invoice's total is exactly the sum of its rounded lines (no line lost or counted twice).
with line_sums as (

    select
        invoice_id,
        sum(amount) as line_total,
        count(*) as line_count
    from {{ ref('invoice_lines') }}
    group by invoice_id

)

select
    invoices.invoice_id,
    invoices.total,
    line_sums.line_total,
    invoices.line_count,
    line_sums.line_count as counted_lines
from {{ ref('invoices') }} as invoices
left join line_sums
    on invoices.invoice_id = line_sums.invoice_id
where
    invoices.subtotal <> coalesce(line_sums.line_total, 0)
    or invoices.total <> invoices.subtotal
    or invoices.line_count <> coalesce(line_sums.line_count, 0)
