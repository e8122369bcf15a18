-- Sharing discounts and credit among tax codes loses nothing and invents nothing: an invoice's
-- tax bases add up to its total before tax, the sum of its computed lines other than tax.
with bases as (

    select
        invoice_id,
        cast(sum(taxable_amount) as {{ usage_billing.type_decimal() }}) as taxable_total
    from {{ ref('usage_billing', 'usage_billing__int_invoice_tax_bases') }}
    group by invoice_id

),

lines as (

    select
        invoice_id,
        cast(sum(amount) as {{ usage_billing.type_decimal() }}) as pre_tax_total
    from {{ ref('usage_billing', 'usage_billing__int_invoice_lines_computed') }}
    where line_type not in ('tax', 'tax_included')
    group by invoice_id

)

select
    lines.invoice_id,
    lines.pre_tax_total,
    bases.taxable_total
from lines
left join bases
    on lines.invoice_id = bases.invoice_id
where lines.pre_tax_total <> coalesce(bases.taxable_total, 0)
