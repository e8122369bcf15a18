with prices_by_billing_period as (

    select * from {{ ref('int_prices_by_billing_period') }}

),

events as (

    select * from {{ ref('int_usage_events_matched_to_metrics') }}

),

priced_metrics as (

    select distinct
        invoice_id,
        subscription_id,
        customer_id,
        period_start,
        period_end,
        metric_name
    from prices_by_billing_period
    where metric_name is not null

),

aggregated as (

    select
        priced_metrics.invoice_id,
        priced_metrics.subscription_id,
        priced_metrics.customer_id,
        priced_metrics.period_start,
        priced_metrics.period_end,
        priced_metrics.metric_name,
        cast(null as {{ dbt.type_string() }}) as group_value,
        cast(coalesce(sum(events.metric_value), 0) as {{ usage_billing.type_decimal() }}) as quantity,
        count(events.event_id) as event_count
    from priced_metrics
    left join events
        on
            priced_metrics.customer_id = events.customer_id
            and priced_metrics.metric_name = events.metric_name
            and priced_metrics.period_start <= events.event_at
            and priced_metrics.period_end > events.event_at
    group by
        priced_metrics.invoice_id,
        priced_metrics.subscription_id,
        priced_metrics.customer_id,
        priced_metrics.period_start,
        priced_metrics.period_end,
        priced_metrics.metric_name

)

select * from aggregated
