{{ config(materialized='view') }}

with invoices as (

    select * from {{ ref('usage_billing', 'usage_billing__invoices') }}
    where status = 'live'

),

billable_usage as (

    select * from {{ ref('usage_billing', 'usage_billing__billable_usage') }}

),

usage_to_clock as (

    select * from {{ ref('usage_billing', 'usage_billing__int_live_usage_to_clock') }}

),

billing_periods as (

    select * from {{ ref('usage_billing', 'usage_billing__int_billing_periods') }}

),

currencies as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_currencies') }}

),

elapsed as (

    select
        invoices.invoice_id,
        -- dbt.datediff renders one long line on DuckDB, whatever the source looks like.
        -- noqa: disable=LT05
        {{ dbt.datediff('invoices.period_start', 'billing_periods.as_of_at', 'second') }} as elapsed_seconds,
        {{ dbt.datediff('invoices.period_start', 'invoices.period_end', 'second') }} as period_seconds
        -- noqa: enable=LT05
    from invoices
    inner join billing_periods
        on invoices.invoice_id = billing_periods.invoice_id

),

final as (

    select
        invoices.invoice_id,
        invoices.subscription_id,
        invoices.customer_id,
        invoices.period_start,
        invoices.period_end,
        invoices.currency,
        invoices.total as invoice_total_so_far,
        billable_usage.metric_name,
        billable_usage.group_value,
        {{ usage_billing.divide_exact('elapsed.elapsed_seconds', 'elapsed.period_seconds', 4) }} as elapsed_fraction,
        -- Usage before the clock only: the invoice also counts events after a clock set inside
        -- the period (usage_billing_as_of), which have not happened yet as of that clock.
        usage_to_clock.quantity_to_clock as quantity_so_far,
        billable_usage.amount as amount_so_far,
        -- Straight line: the pace so far, kept up to the period's end.
        case
            when elapsed.elapsed_seconds > 0
                then {{ usage_billing.divide_exact(
                    usage_billing.multiply_exact('usage_to_clock.quantity_to_clock', 'elapsed.period_seconds'),
                    'elapsed.elapsed_seconds', 10
                ) }}
        end as projected_quantity,
        case
            when elapsed.elapsed_seconds > 0
                then {{ usage_billing.round_money(
                    usage_billing.divide_exact(
                        usage_billing.multiply_exact('billable_usage.amount', 'elapsed.period_seconds'),
                        'elapsed.elapsed_seconds', 10
                    ),
                    'currencies.minor_units',
                ) }}
        end as projected_amount
    from invoices
    inner join elapsed
        on invoices.invoice_id = elapsed.invoice_id
    inner join billable_usage
        on invoices.invoice_id = billable_usage.invoice_id
    inner join usage_to_clock
        on
            billable_usage.invoice_id = usage_to_clock.invoice_id
            and billable_usage.metric_name = usage_to_clock.metric_name
            and coalesce(billable_usage.group_value, '') = coalesce(usage_to_clock.group_value, '')
    left join currencies
        on invoices.currency = currencies.currency

)

select * from final
