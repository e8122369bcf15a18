{#- What each final invoice that is not frozen owes, per credit bucket: the input of the
    draw-down in int_credit_draws. Fixed fees and commitment true-ups are bucket '', each
    metric's lines (usage, minimum true-ups, caps, late-usage adjustments) the metric's name.
    Frozen invoices keep the credit they drew when they were closed. -#}

with closures as (

    select * from {{ ref('int_invoice_closures') }}

),

price_lines as (

    select * from {{ ref('int_invoice_lines_priced') }}

),

commitment_lines as (

    select * from {{ ref('int_invoice_commitments') }}

),

adjustments as (

    select * from {{ ref('int_late_usage_adjustments') }}

),

final_invoices as (

    select
        invoice_id,
        customer_id,
        currency,
        period_end
    from closures
    where status = 'final' and not is_frozen

),

owed_lines as (

    select
        invoice_id,
        metric_name,
        amount
    from price_lines
    union all
    select
        invoice_id,
        cast(null as {{ dbt.type_string() }}) as metric_name,
        amount
    from commitment_lines
    union all
    select
        target_invoice_id as invoice_id,
        metric_name,
        amount
    from adjustments
    where target_invoice_id is not null

),

final as (

    select
        final_invoices.invoice_id,
        final_invoices.customer_id,
        final_invoices.currency,
        final_invoices.period_end,
        coalesce(owed_lines.metric_name, '') as bucket,
        sum(owed_lines.amount) as owed
    from final_invoices
    inner join owed_lines
        on final_invoices.invoice_id = owed_lines.invoice_id
    group by
        final_invoices.invoice_id,
        final_invoices.customer_id,
        final_invoices.currency,
        final_invoices.period_end,
        coalesce(owed_lines.metric_name, '')

)

select * from final
