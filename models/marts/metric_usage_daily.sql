with events as (

    select * from {{ ref('int_usage_events_matched_to_metrics') }}

),

final as (

    select
        customer_id,
        metric_name,
        group_value,
        cast(event_at as date) as usage_date,
        cast(coalesce(sum(metric_value), 0) as {{ usage_billing.type_decimal() }}) as quantity,
        count(*) as event_count
    from events
    group by
        customer_id,
        metric_name,
        group_value,
        cast(event_at as date)

)

select * from final
