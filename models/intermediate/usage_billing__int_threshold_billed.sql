{#- What each period's threshold invoices issued by earlier builds billed: one row per
    threshold invoice, its pre-tax subtotal (its lines less credit and tax), which the period's
    later invoices net with a `threshold_billed` line (docs/usage-controls.md, "Threshold
    billing"). Read from the stored threshold invoices, not computed: they never change. -#}

with threshold_lines as (

    {{ usage_billing.threshold_invoice_state() }}

),

invoice_numbers as (

    {{ usage_billing.invoice_number_state() }}

),

subtotals as (

    select
        threshold_of_invoice_id,
        invoice_id as threshold_invoice_id,
        threshold_sequence,
        sum(case when line_type in ('credit', 'tax', 'tax_included') then 0 else amount end) as subtotal
    from threshold_lines
    group by threshold_of_invoice_id, invoice_id, threshold_sequence

),

final as (

    select
        subtotals.threshold_of_invoice_id as invoice_id,
        subtotals.threshold_invoice_id,
        subtotals.threshold_sequence,
        invoice_numbers.invoice_number,
        -- The number the customer knows it by; its id while it has none (an unknown issuer).
        {{ dbt.concat([
            "'Billed on invoice '",
            'coalesce(invoice_numbers.invoice_number, subtotals.threshold_invoice_id)',
        ]) }} as description,
        cast(subtotals.subtotal as {{ usage_billing.type_decimal() }}) as billed_amount
    from subtotals
    left join invoice_numbers
        on subtotals.threshold_invoice_id = invoice_numbers.invoice_id

)

select * from final
