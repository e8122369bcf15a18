{#- What each final invoice that is not frozen owes, per credit bucket: the input of the
    draw-down in int_credit_draws. Fixed fees and commitment true-ups are bucket '', each
    metric's lines (usage, minimum true-ups, caps, late-usage adjustments) the metric's name;
    a discount lowers the bucket of its metric or price ('' when on the whole invoice), what
    threshold invoices of the period billed lowers '' (and, past it, the other buckets).
    A credit purchase is never paid by credit. Frozen invoices keep the credit they drew when they were closed. A negative late-usage
    adjustment can leave a bucket below zero: it is taken off the invoice's other buckets. -#}

with closures as (

    select * from {{ ref('usage_billing', 'usage_billing__int_invoice_closures') }}

),

invoice_charges as (

    select * from {{ ref('usage_billing', 'usage_billing__int_invoice_charges') }}

),

discounts as (

    select * from {{ ref('usage_billing', 'usage_billing__int_invoice_discounts') }}

),

threshold_billed as (

    select * from {{ ref('usage_billing', 'usage_billing__int_threshold_billed') }}

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
    from invoice_charges
    where charge_type <> 'credit_purchase'
    union all
    select
        invoice_id,
        metric_name,
        0 - discount_amount as amount
    from discounts
    union all
    select
        invoice_id,
        cast(null as {{ dbt.type_string() }}) as metric_name,
        0 - billed_amount as amount
    from threshold_billed

),

by_bucket as (

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

),

offsets as (

    select
        *,
        -- A bucket below zero (late usage corrected down) offsets the invoice's other charges
        -- before credit pays them, in draw order: credit never pays more than the invoice owes.
        sum(case when owed < 0 then 0 - owed else 0 end) over (partition by invoice_id) as deficit,
        coalesce(sum(case when owed > 0 then owed else 0 end) over (
            partition by invoice_id
            order by case when bucket = '' then 0 else 1 end, bucket
            rows between unbounded preceding and 1 preceding
        ), 0) as owed_before
    from by_bucket

),

final as (

    select
        invoice_id,
        customer_id,
        currency,
        period_end,
        bucket,
        cast(
            case
                when owed <= 0 or deficit <= owed_before then owed
                when deficit - owed_before >= owed then 0
                else owed - (deficit - owed_before)
            end as {{ usage_billing.type_decimal() }}
        ) as owed
    from offsets

)

select * from final
