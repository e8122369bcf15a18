{#- Each metric per customer, group and UTC day, aggregated as the metric says (a day's max is
    the max of that day). For charts and live totals; invoices never add these up. -#}
{#- Incremental: a run replaces the (customer, day) pairs that changed events fall in, before
    or after their correction, and every day of metrics read from relations. -#}
{%- set metrics = usage_billing.metric_definitions() -%}
{{ config(
    materialized=usage_billing.usage_materialization(),
    incremental_strategy='append',
    pre_hook="{{ usage_billing.delete_rows_to_recompute(usage_billing.usage_days_to_recompute()) }}",
) }}
-- depends_on: {{ ref('int_usage_events_validated') }}

with all_events as (

    select * from {{ ref('int_usage_events_matched_to_metrics') }}

),

{% if is_incremental() %}
    changed_days as (

        {{ usage_billing.changed_usage_days() }}

    ),

    events as (

        select all_events.*
        from all_events
        inner join changed_days
            on
                all_events.customer_id = changed_days.customer_id
                and cast(all_events.event_at as date) = changed_days.usage_date
        where not all_events.is_from_relation

        union all

        select * from all_events
        where all_events.is_from_relation

    ),
{% else %}
    events as (

        select * from all_events

    ),
{% endif %}

ranked_events as (

    select
        *,
        cast(event_at as date) as usage_date,
        {% if usage_billing.metrics_need_recency_rank(metrics, daily=true) -%}
            row_number() over (
                partition by customer_id, metric_name, group_value, cast(event_at as date)
                order by event_at desc, event_id desc
            )
        {%- else -%}
            cast(null as {{ dbt.type_int() }})
        {%- endif %} as recency_rank
    from events
    where event_at is not null

),

final as (

    -- One pass over the events for every metric: each group takes its metric's aggregate.
    select
        customer_id,
        metric_name,
        group_value,
        usage_date,
        {% if metrics -%}
            {{ usage_billing.metrics_aggregate_by_name(metrics, daily=true) }}
        {%- else -%}
            cast(null as {{ usage_billing.type_decimal() }})
        {%- endif %} as quantity,
        count(*) as event_count
    from ranked_events
    group by customer_id, metric_name, group_value, usage_date

)

select * from final
