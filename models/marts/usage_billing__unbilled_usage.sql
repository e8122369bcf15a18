{#- Accepted usage that no invoice bills, per customer, metric, group, UTC day and reason, so
    that rejected + billed + unbilled accounts for every event (docs/unbilled-usage.md). The
    rule of what is billed is the macro unbilled_events (int_usage_events_unbilled's); here each
    row gets the first reason that fits and the day's quantity as metric_usage_daily computes it.
    No subscription_id: an unbilled instant is held by none, or by several that do not price
    it. The reasons come from each customer's periods cut into segments that do not overlap, so
    each unbilled row joins one segment at most: no grouping per event, which the unbilled rows
    of a metric no plan prices would make costly.
    Incremental: a run deletes and classifies again the customers' days whose rows may have
    changed (macros/unbilled/unbilled_rows_to_recompute.sql), reading only their events, and
    adds its other new events to the stored rows of their keys (unbilled_rows_added.sql). -#}
{%- set metrics = usage_billing.metric_definitions() -%}
{%- set model_name = 'usage_billing__unbilled_usage' -%}
{{ config(
    materialized=usage_billing.usage_materialization(),
    incremental_strategy='delete+insert',
    unique_key='unbilled_row_id',
    pre_hook=[
        "{{ usage_billing.prepare_build_state('usage_billing__unbilled_usage') }}",
        "{{ usage_billing.prepare_unbilled_inputs() }}",
        "{{ usage_billing.delete_rows_to_recompute(usage_billing.unbilled_rows_to_recompute()) }}",
    ],
    post_hook=[
        "{{ usage_billing.record_build_state('usage_billing__unbilled_usage') }}",
        "{{ usage_billing.record_unbilled_inputs() }}",
    ],
) }}
{#- Spark's own tables replace rows by partition (macros/incremental/spark_partitions.sql). -#}
{%- if target.type == 'spark' %}{{ config(partition_by='usage_date', file_format='parquet') }}{% endif %}
{%- set incremental = usage_billing.builds_on_stored_rows(model_name) -%}
{{- usage_billing.log_build_mode(model_name) }}

-- Both streamed where the engine would store them: each is read several times, with disjoint
-- filters (an incremental run's share, below), and stored they would be copied whole.
with matched as {{ usage_billing.not_materialized() }} (

    select * from {{ ref('usage_billing', 'usage_billing__int_usage_events_matched_to_metrics') }}

),

validated as {{ usage_billing.not_materialized() }} (

    select * from {{ ref('usage_billing', 'usage_billing__int_usage_events_validated') }}

),

{% if incremental %}
    {{ usage_billing.unbilled_changes() }}
    {{ usage_billing.unbilled_share('matched', 'matched', metric_rows=true) }}
    {{ usage_billing.unbilled_share('validated', 'validated', metric_rows=false) }}
    {{ usage_billing.unbilled_events('matched_to_recompute', 'validated_to_recompute') }},
{% else %}
    {{ usage_billing.unbilled_events('matched', 'validated') }},
{% endif %}

{{ usage_billing.unbilled_billing_segments() }},

held_segments as (

    select distinct
        customer_id,
        segment_start,
        segment_end
    from segment_prices

),

segment_metrics as (

    select
        customer_id,
        segment_start,
        segment_end,
        metric_name,
        max(case when is_default_price then 1 else 0 end) as has_default_price
    from segment_prices
    group by customer_id, segment_start, segment_end, metric_name

),

classified as (

    -- The first reason that fits. One row per unbilled row: each join matches one row at most.
    select
        unbilled.*,
        cast(unbilled.event_at as date) as usage_date,
        case
            when unbilled.metric_name is null then 'matches_no_metric'
            -- Held by a period that prices its group, yet unbilled: a gauge's report after the
            -- clock, or one replaced at the same instant at a period's start (held no time).
            when priced_metric.has_default_price = 1 or priced_group.customer_id is not null
                then
                    case
                        when unbilled.event_at >= {{ usage_billing.as_of_timestamp() }} then 'after_billing_clock'
                        else 'replaced_at_same_instant'
                    end
            when priced_metric.customer_id is not null then 'group_not_priced'
            when held.customer_id is not null then 'metric_not_priced'
            when unbilled.event_at >= {{ usage_billing.as_of_timestamp() }} then 'after_billing_clock'
            -- Also a relation's row without a timestamp or customer: nothing holds it.
            else 'no_subscription'
        end as reason
    from unbilled_events as unbilled
    left join held_segments as held
        on
            unbilled.customer_id = held.customer_id
            and unbilled.event_at >= held.segment_start
            and unbilled.event_at < held.segment_end
    left join segment_metrics as priced_metric
        on
            unbilled.customer_id = priced_metric.customer_id
            and unbilled.metric_name = priced_metric.metric_name
            and unbilled.event_at >= priced_metric.segment_start
            and unbilled.event_at < priced_metric.segment_end
    left join segment_prices as priced_group
        on
            unbilled.customer_id = priced_group.customer_id
            and unbilled.metric_name = priced_group.metric_name
            and unbilled.group_value = priced_group.group_value
            and unbilled.event_at >= priced_group.segment_start
            and unbilled.event_at < priced_group.segment_end
            and not priced_group.is_default_price

),

ranked as (

    -- The day's last event, for `latest` and a gauge's daily level, as in metric_usage_daily.
    select
        *,
        {% if usage_billing.metrics_need_recency_rank(metrics, daily=true) -%}
            row_number() over (
                partition by customer_id, metric_name, group_value, usage_date, reason
                order by {{ usage_billing.recency_order() }}
            )
        {%- else -%}
            cast(null as {{ dbt.type_int() }})
        {%- endif %} as recency_rank
    from classified

),

aggregated as (

    select
        customer_id,
        reason,
        metric_name,
        group_value,
        event_type,
        usage_date,
        count(*) as event_count,
        {% if metrics -%}
            {{ usage_billing.metrics_aggregate_by_name(metrics, daily=true) }}
        {%- else -%}
            cast(null as {{ usage_billing.type_decimal() }})
        {%- endif %} as quantity,
        min(event_at) as first_event_at,
        max(event_at) as last_event_at,
        is_from_relation
    from ranked
    group by customer_id, reason, metric_name, group_value, event_type, usage_date, is_from_relation

),

keyed as (

    select
        {{ usage_billing.unbilled_row_id('aggregated') }} as unbilled_row_id,
        aggregated.*
    from aggregated

),

{% if incremental %}
    {{ usage_billing.unbilled_rows_added_to_stored('keyed') }}
{% else %}
    final as (

        select * from keyed

    )
{% endif %}

select * from final
