{#- The rule of what no invoice counts (int_usage_events_unbilled's header), as CTEs ending in
    `unbilled_events`, written after the caller's own: `matched` and `validated` name the CTEs
    of int_usage_events_matched_to_metrics and int_usage_events_validated rows to read (all of
    them, or an incremental run's share: each event's rows and its matches together, and every
    report of a gauge, whose level the next report ends). -#}
{% macro unbilled_events(matched, validated) %}
{%- set gauge_names = [] -%}
{%- for metric in usage_billing.metric_definitions() if metric['aggregation'] == 'time_weighted' -%}
    {%- do gauge_names.append(usage_billing.sql_literal(metric['name'])) -%}
{%- endfor -%}
{%- set is_gauge = ('(matched.metric_name in (' ~ gauge_names | join(', ') ~ '))') if gauge_names else 'false' %}
billing_windows as (

    select * from {{ ref('usage_billing', 'usage_billing__int_priced_groups_by_billing_period') }}

),

plain_unbilled as (

    -- A left join, not `not exists` with ranges, which some engines cannot decorrelate; an
    -- event counted in two periods yields two rows, both dropped.
    select
        matched.is_from_relation,
        matched.event_id,
        matched.customer_id,
        matched.event_at,
        matched.metric_name,
        matched.group_value,
        matched.metric_value,
        matched.metric_value_text
    from {{ matched }} as matched
    left join billing_windows
        on
            matched.customer_id = billing_windows.customer_id
            and matched.metric_name = billing_windows.metric_name
            and matched.event_at >= billing_windows.period_start
            and matched.event_at < billing_windows.period_end
            and (billing_windows.is_default_price or matched.group_value = billing_windows.group_value)
    where billing_windows.customer_id is null and not {{ is_gauge }}

),

{% if gauge_names %}
    gauge_levels as (

        select
            is_from_relation,
            event_id,
            customer_id,
            event_at,
            metric_name,
            group_value,
            metric_value,
            metric_value_text,
            lead(event_at) over (
                partition by customer_id, metric_name, group_value
                order by event_at, event_id
            ) as held_until
        from {{ matched }} as matched
        where metric_name in ({{ gauge_names | join(', ') }})

    ),

    gauge_unbilled as (

        -- A report before the subscription starts is billed when its level carries into the
        -- first period; one after the clock is not held yet.
        select
            gauge_levels.is_from_relation,
            gauge_levels.event_id,
            gauge_levels.customer_id,
            gauge_levels.event_at,
            gauge_levels.metric_name,
            gauge_levels.group_value,
            gauge_levels.metric_value,
            gauge_levels.metric_value_text
        from gauge_levels
        left join billing_windows
            on
                gauge_levels.customer_id = billing_windows.customer_id
                and gauge_levels.metric_name = billing_windows.metric_name
                and gauge_levels.event_at < billing_windows.period_end
                and gauge_levels.event_at < {{ usage_billing.as_of_timestamp() }}
                and (gauge_levels.held_until is null or gauge_levels.held_until > billing_windows.period_start)
                and (billing_windows.is_default_price or gauge_levels.group_value = billing_windows.group_value)
        where billing_windows.customer_id is null

    ),
{% endif %}

events_without_metric as (

    -- An anti-join written as a left join on the event (its id and customer: two customers'
    -- events may share an id, docs/metrics.md): no correlated subquery to decorrelate
    -- (DuckDB made `not exists` a slower mark join); an event's several matches all drop.
    select
        false as is_from_relation,
        validated.event_key as event_id,
        validated.customer_id,
        validated.event_at,
        cast(null as {{ dbt.type_string() }}) as metric_name,
        cast(null as {{ dbt.type_string() }}) as group_value,
        cast(null as {{ usage_billing.type_decimal() }}) as metric_value,
        cast(null as {{ dbt.type_string() }}) as metric_value_text,
        validated.event_type
    from {{ validated }} as validated
    left join {{ matched }} as matched
        on
            validated.event_key = matched.event_id
            and validated.customer_id = matched.customer_id
            and not matched.is_from_relation
    where validated.rejection_reason is null and matched.event_id is null

),

unbilled_events as (

    -- event_type only where no metric names the usage (the matches do not keep it).
    select
        *,
        cast(null as {{ dbt.type_string() }}) as event_type
    from plain_unbilled
    {% if gauge_names -%}
        union all
        select
            *,
            cast(null as {{ dbt.type_string() }}) as event_type
        from gauge_unbilled
    {%- endif %}
    union all
    select * from events_without_metric

)
{%- endmacro %}
