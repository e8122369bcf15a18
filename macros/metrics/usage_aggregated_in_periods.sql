{#- int_usage_by_billing_period's measurement: each priced metric's quantity per period and
    priced group, every aggregation over the whole period, then converted (divide_by, round)
    before pricing. CTEs ending in `aggregated` (invoice_id, metric_name, group_value,
    child_customer_id, measured_quantity, quantity, event_count), written where the model's
    `with` list needs them; they read its CTEs `events`, `priced_metrics` (the periods and
    metrics it computes, once per customer whose events they bill: usage_customer_id, and
    child_customer_id for a child priced apart) and `priced_groups` (the groups they price).
    Gauges (time_weighted) hold each level until the next report; every other metric takes
    one pass over the events. -#}
{% macro usage_aggregated_in_periods(metrics) %}
events_in_periods as (

    select
        priced_metrics.invoice_id,
        priced_metrics.metric_name,
        -- A group without a price of its own is billed in the default group.
        priced_groups.group_value,
        priced_metrics.child_customer_id,
        events.event_id,
        events.event_at,
        events.metric_value,
        events.metric_value_text
    from priced_metrics
    inner join events
        on
            priced_metrics.usage_customer_id = events.customer_id
            and priced_metrics.metric_name = events.metric_name
            and priced_metrics.period_start <= events.event_at
            and priced_metrics.period_end > events.event_at
    left join priced_groups
        on
            priced_metrics.invoice_id = priced_groups.invoice_id
            and priced_metrics.metric_name = priced_groups.metric_name
            and events.group_value = priced_groups.group_value

),

ranked_events as (

    select
        *,
        {% if usage_billing.metrics_need_recency_rank(metrics) -%}
            row_number() over (
                partition by invoice_id, metric_name, group_value, child_customer_id
                order by {{ usage_billing.recency_order() }}
            )
        {%- else -%}
            cast(null as {{ dbt.type_int() }})
        {%- endif %} as recency_rank
    from events_in_periods

),

{% for metric in metrics if metric['aggregation'] == 'time_weighted' %}
    {%- if loop.first %}
        gauge_levels as (

            -- A gauge holds each reported level until the next report of the same customer,
            -- metric and group; the last level is held on, into later periods.
            select
                customer_id,
                metric_name,
                group_value,
                metric_value,
                event_at as held_from,
                lead(event_at) over (
                    partition by customer_id, metric_name, group_value
                    order by event_at, event_id
                ) as held_until
            from events
            where metric_name in (
                {%- for gauge in metrics if gauge['aggregation'] == 'time_weighted' -%}
                    {{ usage_billing.sql_literal(gauge['name']) }}{{ ", " if not loop.last }}
                {%- endfor -%}
            )

        ),

        gauge_levels_in_periods as (

            select
                priced_metrics.invoice_id,
                priced_metrics.metric_name,
                priced_groups.group_value,
                priced_metrics.child_customer_id,
                gauge_levels.metric_value,
                {{ dbt.datediff('priced_metrics.period_start', 'priced_metrics.period_end', 'second') }}
                    as period_seconds,
                -- Held from the later of report and period start to the earliest of next report,
                -- period end and the billing clock (a live period counts only time elapsed).
                {{ dbt.datediff(
                    'case when gauge_levels.held_from > priced_metrics.period_start'
                    ~ ' then gauge_levels.held_from else priced_metrics.period_start end',
                    'least(coalesce(gauge_levels.held_until, priced_metrics.period_end),'
                    ~ ' priced_metrics.period_end, ' ~ usage_billing.as_of_timestamp() ~ ')',
                    'second',
                ) }} as held_seconds
            from priced_metrics
            inner join gauge_levels
                on
                    priced_metrics.usage_customer_id = gauge_levels.customer_id
                    and priced_metrics.metric_name = gauge_levels.metric_name
                    and gauge_levels.held_from < priced_metrics.period_end
                    and gauge_levels.held_from < {{ usage_billing.as_of_timestamp() }}
                    and (gauge_levels.held_until is null or gauge_levels.held_until > priced_metrics.period_start)
            left join priced_groups
                on
                    priced_metrics.invoice_id = priced_groups.invoice_id
                    and priced_metrics.metric_name = priced_groups.metric_name
                    and gauge_levels.group_value = priced_groups.group_value

        ),
    {%- endif %}
{% endfor %}

{%- set gauges = [] -%}
{%- set plain_metrics = [] -%}
{%- for metric in metrics -%}
    {%- do (gauges if metric['aggregation'] == 'time_weighted' else plain_metrics).append(metric) -%}
{%- endfor %}
{% if plain_metrics %}
    plain_metrics_measured as (

        -- One pass over the events for every metric but gauges: each group takes its metric's
        -- aggregate.
        select
            invoice_id,
            metric_name,
            group_value,
            child_customer_id,
            {{ usage_billing.metrics_aggregate_by_name(plain_metrics) }} as measured_quantity,
            count(*) as event_count
        from ranked_events
        {% if gauges -%}
            where metric_name not in (
                {%- for gauge in gauges -%}
                    {{ usage_billing.sql_literal(gauge['name']) }}{{ ", " if not loop.last }}
                {%- endfor -%}
            )
        {%- endif %}
        group by invoice_id, metric_name, group_value, child_customer_id

    ),
{% endif %}

{% for metric in gauges %}
    {%- set denominators = {'day': '86400', 'hour': '3600', 'period': 'max(period_seconds)'} %}
    gauge_{{ loop.index }} as (

        -- Level × time held, over the period's length (average level) or per day or hour.
        select
            invoice_id,
            metric_name,
            group_value,
            child_customer_id,
            {{ usage_billing.divide_exact(
                'sum(' ~ usage_billing.multiply_exact('metric_value', 'held_seconds') ~ ')',
                denominators[metric.get('time_unit') or 'period'],
                10,
            ) }} as measured_quantity,
            count(*) as event_count
        from gauge_levels_in_periods
        where metric_name = {{ usage_billing.sql_literal(metric['name']) }}
        group by invoice_id, metric_name, group_value, child_customer_id

    ),

{% endfor %}
aggregated as (

    {% if plain_metrics -%}
        select
            invoice_id,
            metric_name,
            group_value,
            child_customer_id,
            measured_quantity,
            case metric_name
                {% for metric in plain_metrics -%}
                    when {{ usage_billing.sql_literal(metric['name']) }}
                        then {{ usage_billing.metric_convert(metric, 'coalesce(measured_quantity, 0)') }}
                {% endfor -%}
            end as quantity,
            event_count
        from plain_metrics_measured
        {% if gauges %}union all{% endif %}
    {% endif %}
    {% for metric in gauges %}
        select
            invoice_id,
            metric_name,
            group_value,
            child_customer_id,
            measured_quantity,
            {{ usage_billing.metric_convert(metric, 'coalesce(measured_quantity, 0)') }} as quantity,
            event_count
        from gauge_{{ loop.index }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
    {% if not metrics %}
        select
            invoice_id,
            metric_name,
            group_value,
            cast(null as {{ dbt.type_string() }}) as child_customer_id,
            cast(null as {{ usage_billing.type_decimal() }}) as measured_quantity,
            cast(null as {{ usage_billing.type_decimal() }}) as quantity,
            0 as event_count
        from priced_groups
        where false
    {% endif %}

)
{%- endmacro %}
