{#- Each live period's priced metrics measured up to the billing clock: the usage page's "so
    far". An invoice counts every event its period holds, so with the clock set inside a period
    (usage_billing_as_of) the events after the clock would be counted as usage so far and
    projected from. Same measurement as int_usage_by_billing_period (usage_aggregated_in_periods),
    on the events before the clock. A table rebuilt every build: live periods only. -#}
{%- set metrics = usage_billing.metric_definitions() -%}
{{ config(materialized='table') }}

with billing_periods as (

    select * from {{ ref('usage_billing', 'usage_billing__int_billing_periods') }}

),

prices_by_billing_period as (

    select * from {{ ref('usage_billing', 'usage_billing__int_prices_by_billing_period') }}

),

events as (

    select * from {{ ref('usage_billing', 'usage_billing__int_usage_events_matched_to_metrics') }}
    where event_at < {{ usage_billing.as_of_timestamp() }}

),

live_periods as (

    select invoice_id from billing_periods
    where status = 'live'

),

priced_metrics as (

    -- Once per customer whose events the period bills (parent accounts: its children's too).
    select all_priced_metrics.*
    from {{ ref('usage_billing', 'usage_billing__int_priced_metrics_by_billing_period') }} as all_priced_metrics
    inner join live_periods
        on all_priced_metrics.invoice_id = live_periods.invoice_id

),

priced_groups as (

    select distinct
        prices_by_billing_period.invoice_id,
        prices_by_billing_period.metric_name,
        prices_by_billing_period.group_value
    from prices_by_billing_period
    inner join live_periods
        on prices_by_billing_period.invoice_id = live_periods.invoice_id
    where prices_by_billing_period.metric_name is not null

),

{{ usage_billing.usage_aggregated_in_periods(metrics) }},

final as (

    select
        priced_groups.invoice_id,
        priced_groups.metric_name,
        priced_groups.group_value,
        cast(coalesce(aggregated.quantity, 0) as {{ usage_billing.type_decimal() }}) as quantity_to_clock
    from priced_groups
    left join aggregated
        on
            priced_groups.invoice_id = aggregated.invoice_id
            and priced_groups.metric_name = aggregated.metric_name
            and coalesce(priced_groups.group_value, '') = coalesce(aggregated.group_value, '')
            -- The period's own usage (children pooled in); a child priced apart is not projected.
            and aggregated.child_customer_id is null

)

select * from final
