-- Every invoice's total is exactly the sum of its rounded lines (no line lost or counted twice):
-- the subtotal of its charges less the prepaid credit drawn plus the tax added, never below zero.
with line_sums as (

    select
        invoice_id,
        -- Cast like invoices.subtotal: the Snowflake emulator (fakesnow) sums decimals as floats.
        cast(sum(amount) as {{ usage_billing.type_decimal() }}) as line_total,
        cast(
            sum(case when line_type in ('credit', 'tax', 'tax_included') then 0 else amount end)
            as {{ usage_billing.type_decimal() }}
        ) as charges_total,
        count(*) as line_count
    from {{ ref('usage_billing', 'usage_billing__invoice_lines') }}
    group by invoice_id

)

select
    invoices.invoice_id,
    invoices.total,
    line_sums.line_total,
    invoices.line_count,
    line_sums.line_count as counted_lines
from {{ ref('usage_billing', 'usage_billing__invoices') }} as invoices
left join line_sums
    on invoices.invoice_id = line_sums.invoice_id
where
    invoices.total <> coalesce(line_sums.line_total, 0)
    or invoices.subtotal <> coalesce(line_sums.charges_total, 0)
    or invoices.total <> invoices.subtotal - invoices.credits_applied + invoices.tax_amount
    or (invoices.total < 0 and invoices.subtotal >= 0)
    or invoices.line_count <> coalesce(line_sums.line_count, 0)
