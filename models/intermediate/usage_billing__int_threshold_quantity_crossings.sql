{#- The exact moment each quantity threshold was crossed in a period: the metric's events of the
    period in event-time order (ties by event_id), their running total converted as the metric
    says (divide_by, round), and the first event at which it reached the level. Only count and
    sum metrics have a running total that is the period's quantity so far; the data test
    assert_usage_thresholds_are_valid rejects quantity levels on other metrics. -#}
{%- set additive_metrics = usage_billing.additive_metrics() -%}
{%- set measured = [] -%}
{%- set converted = [] -%}
{%- for metric in additive_metrics -%}
    {%- set literal = usage_billing.sql_literal(metric['name']) -%}
    {%- do measured.append('when ' ~ literal ~ ' then '
        ~ ('1' if metric['aggregation'] == 'count' else 'coalesce(events.metric_value, 0)')) -%}
    {%- do converted.append('when ' ~ literal ~ ' then '
        ~ usage_billing.metric_convert(metric, 'measured_so_far')) -%}
{%- endfor %}

with levels as (

    select * from {{ ref('usage_billing', 'usage_billing__int_threshold_levels') }}
    where level_kind = 'quantity'

),

watched_metrics as (

    select distinct
        invoice_id,
        customer_id,
        period_start,
        period_end,
        metric_name
    from levels

),

{% if additive_metrics %}
    events as (

        select * from {{ ref('usage_billing', 'usage_billing__int_usage_events_matched_to_metrics') }}

    ),

    running_totals as (

        select
            watched_metrics.invoice_id,
            watched_metrics.metric_name,
            events.event_id,
            events.event_at,
            sum(case events.metric_name {{ measured | join(' ') }} end) over (
                partition by watched_metrics.invoice_id, watched_metrics.metric_name
                order by events.event_at, events.event_id
                rows between unbounded preceding and current row
            ) as measured_so_far
        from watched_metrics
        inner join events
            on
                watched_metrics.customer_id = events.customer_id
                and watched_metrics.metric_name = events.metric_name
                and watched_metrics.period_start <= events.event_at
                and watched_metrics.period_end > events.event_at
        where {{ usage_billing.metric_name_in(additive_metrics, 'events.metric_name') }}

    ),

    quantities_so_far as (

        select
            invoice_id,
            metric_name,
            event_id,
            event_at,
            case metric_name {{ converted | join(' ') }} end as quantity_so_far
        from running_totals

    ),
{% else %}
    quantities_so_far as (

        select
            invoice_id,
            metric_name,
            cast(null as {{ dbt.type_string() }}) as event_id,
            cast(null as {{ dbt.type_timestamp() }}) as event_at,
            cast(null as {{ usage_billing.type_decimal() }}) as quantity_so_far
        from watched_metrics
        where 1 = 0

    ),
{% endif %}

reached as (

    select
        levels.threshold_id,
        levels.invoice_id,
        quantities_so_far.event_id,
        quantities_so_far.event_at,
        quantities_so_far.quantity_so_far,
        row_number() over (
            partition by levels.threshold_id, levels.invoice_id
            order by quantities_so_far.event_at, quantities_so_far.event_id
        ) as reached_rank
    from levels
    inner join quantities_so_far
        on
            levels.invoice_id = quantities_so_far.invoice_id
            and levels.metric_name = quantities_so_far.metric_name
            and levels.level_value <= quantities_so_far.quantity_so_far

),

final as (

    select
        threshold_id,
        invoice_id,
        event_id as crossing_event_id,
        event_at as crossed_at,
        quantity_so_far as value_at_crossing
    from reached
    where reached_rank = 1

)

select * from final
