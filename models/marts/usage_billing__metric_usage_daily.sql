{#- Each metric per customer, group and UTC day, aggregated as the metric says (a day's max is
    the max of that day). For charts and live totals; invoices never add these up.
    Incremental: a run aggregates again every event of the days it must recompute (where a
    replaced version counted, or a metric that is not additive changed) and of relation metrics;
    on every other day its new events of count and sum metrics are added to the stored
    quantities (add_to_stored), so the run reads the events it added, not the whole day's. -#}
{%- set metrics = usage_billing.metric_definitions() -%}
{%- set additive_metrics = usage_billing.additive_metrics() -%}
{{ config(
    materialized=usage_billing.usage_materialization(),
    incremental_strategy='delete+insert',
    unique_key='usage_day_id',
    pre_hook=[
        "{{ usage_billing.prepare_build_state('usage_billing__metric_usage_daily') }}",
        "{{ usage_billing.delete_rows_to_recompute(usage_billing.usage_rows_to_recompute()) }}",
    ],
    post_hook="{{ usage_billing.record_build_state('usage_billing__metric_usage_daily') }}",
) }}
{#- Spark's own tables replace rows by partition (macros/incremental/spark_partitions.sql). -#}
{%- if target.type == 'spark' %}{{ config(partition_by='usage_date', file_format='parquet') }}{% endif %}
{%- set incremental = usage_billing.builds_on_stored_rows('usage_billing__metric_usage_daily') -%}
{{- usage_billing.log_build_mode('usage_billing__metric_usage_daily') }}
-- depends_on: {{ ref('usage_billing', 'usage_billing__int_usage_events_validated') }}

-- Streamed where the engine would store it: an incremental run reads it for the days it
-- recomputes and for the events it adds, a sliver each.
with all_events as {{ usage_billing.not_materialized() }} (

    select * from {{ ref('usage_billing', 'usage_billing__int_usage_events_matched_to_metrics') }}

),

{% if incremental %}
    days_to_recompute as (

        {{ usage_billing.usage_days_to_recompute() }}

    ),

    events as (

        select all_events.*
        from all_events
        inner join days_to_recompute
            on
                all_events.customer_id = days_to_recompute.customer_id
                and cast(all_events.event_at as date) = days_to_recompute.usage_date
        where not all_events.is_from_relation

        union all

        select * from all_events
        where all_events.is_from_relation

    ),

    added_events as (

        -- This run's events on days not recomputed: all of additive metrics (see the header).
        select
            all_events.*,
            cast(all_events.event_at as date) as usage_date
        from all_events
        left join days_to_recompute
            on
                all_events.customer_id = days_to_recompute.customer_id
                and cast(all_events.event_at as date) = days_to_recompute.usage_date
        where
            {{ usage_billing.is_unconsumed_change('usage_billing__metric_usage_daily', 'all_events.processed_at') }}
            and not all_events.is_from_relation
            and all_events.event_at is not null
            and days_to_recompute.customer_id is null

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
                order by {{ usage_billing.recency_order() }}
            )
        {%- else -%}
            cast(null as {{ dbt.type_int() }})
        {%- endif %} as recency_rank
    from events
    where event_at is not null

),

aggregated as (

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

),

{% if incremental and additive_metrics %}
    added as (

        select
            customer_id,
            metric_name,
            group_value,
            usage_date,
            {{ usage_billing.metrics_aggregate_by_name(additive_metrics, daily=true) }} as quantity,
            count(*) as event_count
        from added_events
        group by customer_id, metric_name, group_value, usage_date

    ),

    stored as (

        -- Every group of the metric-days the added events fall in: they are written again.
        select
            stored_days.customer_id,
            stored_days.metric_name,
            stored_days.group_value,
            stored_days.usage_date,
            stored_days.quantity,
            stored_days.event_count
        from {{ this }} as stored_days
        inner join (select distinct customer_id, metric_name, usage_date from added) as added_days
            on
                stored_days.customer_id = added_days.customer_id
                and stored_days.metric_name = added_days.metric_name
                and stored_days.usage_date = added_days.usage_date

    ),

    merged as (

        {{ usage_billing.add_to_stored('stored', 'added', [
            ('customer_id', 'key'), ('metric_name', 'key'), ('group_value', 'key'), ('usage_date', 'key'),
            ('quantity', 'sum'), ('event_count', 'count'),
        ]) }}

    ),
{% endif %}

unioned as (

    select * from aggregated
    {% if incremental and additive_metrics -%}
        union all
        select * from merged
    {%- endif %}

),

final as (

    -- One key column for delete+insert: some adapters delete by each column of a composite key
    -- apart, which also removes rows whose combination was not recomputed. Text, not a hash
    -- (cheaper to build, readable); the customer's length makes it unambiguous.
    select
        {{ dbt.concat([
            'metric_name', "'|'", 'cast(usage_date as ' ~ dbt.type_string() ~ ')', "'|'",
            'cast(' ~ dbt.length('customer_id') ~ ' as ' ~ dbt.type_string() ~ ')', "':'", 'customer_id', "'|'",
            'coalesce(' ~ dbt.concat(["'='", 'group_value']) ~ ", '-')",
        ]) }} as usage_day_id,
        customer_id,
        metric_name,
        group_value,
        usage_date,
        quantity,
        event_count
    from unioned

)

select * from final
