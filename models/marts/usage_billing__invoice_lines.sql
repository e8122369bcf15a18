{#- Every invoice's lines: a closed invoice's as frozen in closed_invoice_lines (policy
    next_open_period), every other invoice's as this build computes them
    (int_invoice_lines_computed), and every threshold invoice's as issued
    (threshold_invoice_lines), with their metric's display name and unit. -#}

with computed_lines as (

    select * from {{ ref('usage_billing', 'usage_billing__int_invoice_lines_computed') }}

),

frozen_lines as (

    select * from {{ ref('usage_billing', 'usage_billing__closed_invoice_lines') }}
    -- amend_closed revises closed invoices: frozen lines (of an earlier policy) are not shown.
    where {{ 'true' if usage_billing.late_usage_policy() == 'next_open_period' else 'false' }}

),

threshold_lines as (

    select * from {{ ref('usage_billing', 'usage_billing__threshold_invoice_lines') }}

),

metric_definitions as (

    select * from {{ ref('usage_billing', 'usage_billing__int_metric_definitions') }}

),

customers as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_customers') }}

),

frozen_invoices as (

    select distinct invoice_id from frozen_lines

),

all_lines as (

    select
        {{ usage_billing.invoice_line_select('frozen_lines') }}
    from frozen_lines

    union all

    select
        {{ usage_billing.invoice_line_select('computed_lines') }}
    from computed_lines
    left join frozen_invoices
        on computed_lines.invoice_id = frozen_invoices.invoice_id
    where frozen_invoices.invoice_id is null

    union all

    select
        {{ usage_billing.invoice_line_select('threshold_lines') }}
    from threshold_lines

),

final as (

    -- The metric's name and unit as the current definitions give them, frozen lines included:
    -- presentation, which a renamed display_name may change without changing an amount.
    select
        {{ usage_billing.invoice_line_select('all_lines') }},
        metric_definitions.display_name as metric_display_name,
        -- A discount's base is money in the invoice's currency, whatever its metric counts.
        case
            when all_lines.line_type <> 'discount' then nullif(metric_definitions.unit, '')
        end as metric_unit,
        -- Parent accounts: the child a line prices, by its name as the customers table gives it.
        children.customer_name as child_customer_name
    from all_lines
    left join metric_definitions
        on all_lines.metric_name = metric_definitions.metric_name
    left join customers as children
        on all_lines.child_customer_id = children.customer_id

)

select * from final
