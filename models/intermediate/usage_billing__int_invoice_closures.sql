{#- Every billing period with whether it is closed (docs/closing-periods.md). A period is
    closed when a closed_periods row for its customer (or for all) reaches its last local day
    and the invoice is final, or when an earlier build froze it: removing the row later does
    not reopen a frozen invoice. A row reaching a draft or live invoice closes nothing and
    fails the test assert_closed_periods_are_valid. -#}

with billing_periods as (

    select * from {{ ref('usage_billing', 'usage_billing__int_billing_periods') }}

),

closed_periods as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_closed_periods') }}

),

frozen_lines as (

    select * from {{ ref('usage_billing', 'usage_billing__int_closed_invoice_state') }}

),

periods as (

    select
        *,
        -- period_end_date is exclusive; closing "through" a day covers periods ending by then.
        cast({{ dbt.dateadd('day', -1, 'period_end_date') }} as date) as period_last_date
    from billing_periods

),

coverings as (

    select
        periods.invoice_id,
        max(closed_periods.closed_through) as closed_through,
        min(closed_periods.closed_at) as closed_at
    from periods
    inner join closed_periods
        on
            (closed_periods.customer_id is null or periods.customer_id = closed_periods.customer_id)
            and periods.period_last_date <= closed_periods.closed_through
    group by periods.invoice_id

),

frozen_invoices as (

    select
        invoice_id,
        min(closed_through) as closed_through,
        min(closed_at) as closed_at
    from frozen_lines
    group by invoice_id

),

final as (

    select
        periods.invoice_id,
        periods.subscription_id,
        periods.customer_id,
        periods.currency,
        periods.period_start,
        periods.period_end,
        periods.period_start_date,
        periods.period_end_date,
        periods.period_last_date,
        periods.status,
        coverings.invoice_id is not null as is_covered,
        frozen_invoices.invoice_id is not null as is_frozen,
        frozen_invoices.invoice_id is not null
        or (coverings.invoice_id is not null and periods.status = 'final') as is_closed,
        coalesce(frozen_invoices.closed_through, coverings.closed_through) as closed_through,
        coalesce(frozen_invoices.closed_at, coverings.closed_at) as closed_at
    from periods
    left join coverings
        on periods.invoice_id = coverings.invoice_id
    left join frozen_invoices
        on periods.invoice_id = frozen_invoices.invoice_id

)

select * from final
