{#- Accepted usage that no invoice bills, per customer, metric, group, UTC day and reason, so
    that rejected + billed + unbilled accounts for every event (docs/unbilled-usage.md). The
    rows come from int_usage_events_unbilled (the rule of what is billed is there); here each
    gets the first reason that fits and the day's quantity as metric_usage_daily computes it.
    No subscription_id: an unbilled instant is held by none, or by several that do not price
    it. A plain table rebuilt every build; only the unbilled rows are classified. -#}
{%- set metrics = usage_billing.metric_definitions() -%}

with unbilled as {{ usage_billing.not_materialized() }} (

    select * from {{ ref('int_usage_events_unbilled') }}

),

billing_windows as (

    select * from {{ ref('int_priced_groups_by_billing_period') }}

),

instants as (

    -- The reason depends on customer, metric, group and instant alone: each is classified once.
    select distinct
        customer_id,
        metric_name,
        group_value,
        event_at
    from unbilled
    where metric_name is not null and event_at is not null

),

instant_coverage as (

    -- Several subscriptions' periods may hold one instant: what any of them does.
    select
        instants.customer_id,
        instants.metric_name,
        instants.group_value,
        instants.event_at,
        max(case when billing_periods.customer_id is not null then 1 else 0 end) as is_in_a_period,
        max(case when billing_windows.customer_id is not null then 1 else 0 end) as is_metric_priced,
        max(
            case
                when billing_windows.is_default_price or billing_windows.group_value = instants.group_value then 1
                else 0
            end
        ) as is_group_priced
    from instants
    left join {{ ref('int_billing_periods') }} as billing_periods
        on
            instants.customer_id = billing_periods.customer_id
            and instants.event_at >= billing_periods.period_start
            and instants.event_at < billing_periods.period_end
    left join billing_windows
        on
            instants.customer_id = billing_windows.customer_id
            and instants.metric_name = billing_windows.metric_name
            and instants.event_at >= billing_windows.period_start
            and instants.event_at < billing_windows.period_end
    group by instants.customer_id, instants.metric_name, instants.group_value, instants.event_at

),

instant_reasons as (

    select
        customer_id,
        metric_name,
        group_value,
        event_at,
        case
            -- Held by a period that prices its group, yet unbilled: a gauge's report after the
            -- clock, or one replaced at the same instant at a period's start (held no time).
            when is_group_priced = 1 and event_at >= {{ usage_billing.as_of_timestamp() }} then 'after_billing_clock'
            when is_group_priced = 1 then 'replaced_at_same_instant'
            when is_metric_priced = 1 then 'group_not_priced'
            when is_in_a_period = 1 then 'metric_not_priced'
            when event_at >= {{ usage_billing.as_of_timestamp() }} then 'after_billing_clock'
            else 'no_subscription'
        end as reason
    from instant_coverage

),

classified as (

    select
        unbilled.*,
        cast(unbilled.event_at as date) as usage_date,
        case
            when unbilled.metric_name is null then 'matches_no_metric'
            -- No timestamp or no customer (only a relation's row can lack them): nothing holds it.
            else coalesce(instant_reasons.reason, 'no_subscription')
        end as reason
    from unbilled
    left join instant_reasons
        on
            unbilled.metric_name = instant_reasons.metric_name
            and unbilled.event_at = instant_reasons.event_at
            and (
                unbilled.customer_id = instant_reasons.customer_id
                or (unbilled.customer_id is null and instant_reasons.customer_id is null)
            )
            and (
                unbilled.group_value = instant_reasons.group_value
                or (unbilled.group_value is null and instant_reasons.group_value is null)
            )

),

ranked as (

    -- The day's last event, for `latest` and a gauge's daily level, as in metric_usage_daily.
    select
        *,
        {% if usage_billing.metrics_need_recency_rank(metrics, daily=true) -%}
            row_number() over (
                partition by customer_id, metric_name, group_value, usage_date, reason
                order by event_at desc, event_id desc
            )
        {%- else -%}
            cast(null as {{ dbt.type_int() }})
        {%- endif %} as recency_rank
    from classified

),

final as (

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

)

select * from final
