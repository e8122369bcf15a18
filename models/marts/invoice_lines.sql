{#- Every invoice's lines: a closed invoice's as frozen in closed_invoice_lines (policy
    next_open_period), every other invoice's as this build computes them
    (int_invoice_lines_computed). -#}

with computed_lines as (

    select * from {{ ref('int_invoice_lines_computed') }}

),

frozen_lines as (

    select * from {{ ref('closed_invoice_lines') }}
    -- amend_closed revises closed invoices: frozen lines (of an earlier policy) are not shown.
    where {{ 'true' if usage_billing.late_usage_policy() == 'next_open_period' else 'false' }}

),

frozen_invoices as (

    select distinct invoice_id from frozen_lines

),

final as (

    select
        frozen_lines.invoice_line_id,
        frozen_lines.invoice_id,
        frozen_lines.line_number,
        frozen_lines.line_type,
        frozen_lines.price_id,
        frozen_lines.credit_grant_id,
        frozen_lines.metric_name,
        frozen_lines.group_value,
        frozen_lines.adjusted_invoice_id,
        frozen_lines.description,
        frozen_lines.tier,
        frozen_lines.quantity,
        frozen_lines.unit_price,
        frozen_lines.flat_amount,
        frozen_lines.amount,
        frozen_lines.currency,
        frozen_lines.is_percentage
    from frozen_lines

    union all

    select
        computed_lines.invoice_line_id,
        computed_lines.invoice_id,
        computed_lines.line_number,
        computed_lines.line_type,
        computed_lines.price_id,
        computed_lines.credit_grant_id,
        computed_lines.metric_name,
        computed_lines.group_value,
        computed_lines.adjusted_invoice_id,
        computed_lines.description,
        computed_lines.tier,
        computed_lines.quantity,
        computed_lines.unit_price,
        computed_lines.flat_amount,
        computed_lines.amount,
        computed_lines.currency,
        computed_lines.is_percentage
    from computed_lines
    left join frozen_invoices
        on computed_lines.invoice_id = frozen_invoices.invoice_id
    where frozen_invoices.invoice_id is null

)

select * from final
