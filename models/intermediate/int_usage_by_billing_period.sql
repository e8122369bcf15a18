{#- Each priced metric's quantity per billing period and priced group. Events of a group that
    has its own price are aggregated apart; all others pool into the default group (empty
    group_value) priced by the metric's default price. Every aggregation runs over the whole
    period, then the quantity is converted (divide_by, round) before pricing.
    Incremental: a run aggregates again every event of the periods where a version it replaced
    used to count, where an event of a metric that is not additive changed (and the later
    periods of gauges, whose level carries on), whose priced metrics and groups changed or are
    new, live periods of gauges (their level is held up to the billing clock), and periods of
    metrics read from relations. Any other period with new events of count and sum metrics
    gets their quantity added to the stored one: the run reads the events it added, not the
    whole period's. -#}
{%- set metrics = usage_billing.metric_definitions() -%}
{%- set gauge_names = [] -%}
{%- set relation_names = [] -%}
{%- for metric in metrics -%}
    {%- if metric['aggregation'] == 'time_weighted' -%}
        {%- do gauge_names.append(usage_billing.sql_literal(metric['name'])) -%}
    {%- endif -%}
    {%- if metric.get('from') -%}
        {%- do relation_names.append(usage_billing.sql_literal(metric['name'])) -%}
    {%- endif -%}
{%- endfor -%}
{{ config(
    materialized=usage_billing.usage_materialization(),
    incremental_strategy='delete+insert',
    unique_key='invoice_id',
    pre_hook="{{ usage_billing.prepare_build_state('int_usage_by_billing_period') }}",
    post_hook="{{ usage_billing.record_build_state('int_usage_by_billing_period') }}",
) }}
{%- set incremental = usage_billing.builds_on_stored_rows('int_usage_by_billing_period') -%}
{{- usage_billing.log_build_mode('int_usage_by_billing_period') }}
-- depends_on: {{ ref('int_usage_events_validated') }}

with prices_by_billing_period as (

    select * from {{ ref('int_prices_by_billing_period') }}

),

-- Streamed where the engine would store it: an incremental run reads it for the periods it
-- recomputes and for the events it adds, a sliver each.
events as {{ usage_billing.not_materialized() }} (

    select * from {{ ref('int_usage_events_matched_to_metrics') }}

),

all_priced_metrics as (

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

pricing_fingerprints as (

    -- Which metrics and groups an invoice prices, and over which instants: when this changes,
    -- its usage must be computed again.
    select
        invoice_id,
        {{ dbt.hash(dbt.concat([
            'cast(min(period_start) as ' ~ dbt.type_string() ~ ')', "'|'",
            'cast(min(period_end) as ' ~ dbt.type_string() ~ ')', "'|'",
            dbt.listagg(
                dbt.concat(['metric_name', "'='", "coalesce(group_value, '')"]),
                "','",
                'order by metric_name, group_value',
            ),
        ])) }} as pricing_fingerprint
    from prices_by_billing_period
    where metric_name is not null
    group by invoice_id

),

{% if incremental %}
    added_events as (

        -- This run's new and changed events, of metrics read from the event table.
        select * from events
        where {{ usage_billing.is_unconsumed_change('int_usage_by_billing_period') }} and not is_from_relation

    ),

    replaced_versions as (

        select distinct
            replaced_customer_id as customer_id,
            replaced_event_at as event_at
        from {{ ref('int_usage_events_validated') }}
        where {{ usage_billing.is_unconsumed_change('int_usage_by_billing_period') }} and replaced_customer_id is not null

    ),

    added_in_priced_metrics as (

        -- Each added event in the period that prices its metric (joined once, read twice: which
        -- periods change, and the added quantities).
        select
            all_priced_metrics.invoice_id,
            added_events.metric_name,
            added_events.group_value,
            added_events.metric_value,
            added_events.metric_value_text
        from all_priced_metrics
        inner join added_events
            on
                all_priced_metrics.customer_id = added_events.customer_id
                and all_priced_metrics.metric_name = added_events.metric_name
                and all_priced_metrics.period_start <= added_events.event_at
                and all_priced_metrics.period_end > added_events.event_at

    ),

    stored_fingerprints as (

        select distinct
            invoice_id,
            pricing_fingerprint
        from {{ this }}

    ),

    invoices_to_recompute as (

        select all_priced_metrics.invoice_id
        from all_priced_metrics
        inner join replaced_versions
            on
                all_priced_metrics.customer_id = replaced_versions.customer_id
                and all_priced_metrics.period_start <= replaced_versions.event_at
                and all_priced_metrics.period_end > replaced_versions.event_at

        union

        select invoice_id
        from added_in_priced_metrics
        where {{ usage_billing.is_non_additive_metric() }}

        union

        select pricing_fingerprints.invoice_id
        from pricing_fingerprints
        left join stored_fingerprints
            on pricing_fingerprints.invoice_id = stored_fingerprints.invoice_id
        where
            stored_fingerprints.pricing_fingerprint is null
            or stored_fingerprints.pricing_fingerprint <> pricing_fingerprints.pricing_fingerprint

        {% if gauge_names -%}
            union

            -- A gauge's level carries into later periods: all after the earliest change.
            select all_priced_metrics.invoice_id
            from all_priced_metrics
            inner join (
                select
                    customer_id,
                    min(event_at) as changed_from_at
                from (
                    select customer_id, event_at from added_events
                    where metric_name in ({{ gauge_names | join(', ') }})
                    union all
                    select customer_id, event_at from replaced_versions
                ) as changed_usage
                group by customer_id
            ) as changed_since
                on
                    all_priced_metrics.customer_id = changed_since.customer_id
                    and all_priced_metrics.period_end > changed_since.changed_from_at
            where all_priced_metrics.metric_name in ({{ gauge_names | join(', ') }})

            union

            select invoice_id
            from all_priced_metrics
            where
                metric_name in ({{ gauge_names | join(', ') }})
                and period_end > {{ usage_billing.as_of_timestamp() }}
        {%- endif %}

        {% if relation_names -%}
            union

            select invoice_id
            from all_priced_metrics
            where metric_name in ({{ relation_names | join(', ') }})
        {%- endif %}

    ),

    invoices_to_add_to as (

        -- Periods whose only changes are new events of additive metrics: the stored quantities
        -- plus those of the added events.
        select distinct added_in_priced_metrics.invoice_id
        from added_in_priced_metrics
        left join invoices_to_recompute
            on added_in_priced_metrics.invoice_id = invoices_to_recompute.invoice_id
        where invoices_to_recompute.invoice_id is null

    ),

    priced_metrics as (

        select all_priced_metrics.*
        from all_priced_metrics
        inner join invoices_to_recompute
            on all_priced_metrics.invoice_id = invoices_to_recompute.invoice_id

    ),

    priced_metrics_added_to as (

        select all_priced_metrics.*
        from all_priced_metrics
        inner join invoices_to_add_to
            on all_priced_metrics.invoice_id = invoices_to_add_to.invoice_id

    ),
{% else %}
    priced_metrics as (

        select * from all_priced_metrics

    ),
{% endif %}

computed_metrics as (

    -- The priced metrics of every period this run computes: recomputed or added to.
    select
        invoice_id,
        metric_name
    from priced_metrics
    {% if incremental -%}
        union all
        select
            invoice_id,
            metric_name
        from priced_metrics_added_to
    {%- endif %}

),

priced_groups as (

    select distinct
        prices_by_billing_period.invoice_id,
        prices_by_billing_period.metric_name,
        prices_by_billing_period.group_value
    from prices_by_billing_period
    inner join computed_metrics
        on
            prices_by_billing_period.invoice_id = computed_metrics.invoice_id
            and prices_by_billing_period.metric_name = computed_metrics.metric_name

),

events_in_periods as (

    select
        priced_metrics.invoice_id,
        priced_metrics.metric_name,
        -- A group without a price of its own is billed in the default group.
        priced_groups.group_value,
        events.event_id,
        events.event_at,
        events.metric_value,
        events.metric_value_text
    from priced_metrics
    inner join events
        on
            priced_metrics.customer_id = events.customer_id
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
                partition by invoice_id, metric_name, group_value
                order by event_at desc, event_id desc
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
                    priced_metrics.customer_id = gauge_levels.customer_id
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
        group by invoice_id, metric_name, group_value

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
            {{ usage_billing.divide_exact(
                'sum(metric_value * held_seconds)',
                denominators[metric.get('time_unit') or 'period'],
                10,
            ) }} as measured_quantity,
            count(*) as event_count
        from gauge_levels_in_periods
        where metric_name = {{ usage_billing.sql_literal(metric['name']) }}
        group by invoice_id, metric_name, group_value

    ),

{% endfor %}
aggregated as (

    {% if plain_metrics -%}
        select
            invoice_id,
            metric_name,
            group_value,
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
            cast(null as {{ usage_billing.type_decimal() }}) as measured_quantity,
            cast(null as {{ usage_billing.type_decimal() }}) as quantity,
            0 as event_count
        from priced_groups
        where false
    {% endif %}

),

final as (

    -- Every priced group of every period, with zero where nothing happened.
    select
        priced_metrics.invoice_id,
        priced_metrics.subscription_id,
        priced_metrics.customer_id,
        priced_metrics.period_start,
        priced_metrics.period_end,
        priced_metrics.metric_name,
        priced_groups.group_value,
        cast(coalesce(aggregated.measured_quantity, 0) as {{ usage_billing.type_decimal() }}) as measured_quantity,
        cast(coalesce(aggregated.quantity, 0) as {{ usage_billing.type_decimal() }}) as quantity,
        coalesce(aggregated.event_count, 0) as event_count,
        pricing_fingerprints.pricing_fingerprint
    from priced_metrics
    inner join priced_groups
        on
            priced_metrics.invoice_id = priced_groups.invoice_id
            and priced_metrics.metric_name = priced_groups.metric_name
    inner join pricing_fingerprints
        on priced_metrics.invoice_id = pricing_fingerprints.invoice_id
    left join aggregated
        on
            priced_groups.invoice_id = aggregated.invoice_id
            and priced_groups.metric_name = aggregated.metric_name
            and coalesce(priced_groups.group_value, '') = coalesce(aggregated.group_value, '')

),

{% if incremental %}
    {%- set additive_metrics = usage_billing.additive_metrics() %}
    added_in_periods as (

        select
            added_in_priced_metrics.invoice_id,
            added_in_priced_metrics.metric_name,
            -- A group without a price of its own is billed in the default group.
            priced_groups.group_value,
            added_in_priced_metrics.metric_value,
            added_in_priced_metrics.metric_value_text
        from added_in_priced_metrics
        inner join invoices_to_add_to
            on added_in_priced_metrics.invoice_id = invoices_to_add_to.invoice_id
        left join priced_groups
            on
                added_in_priced_metrics.invoice_id = priced_groups.invoice_id
                and added_in_priced_metrics.metric_name = priced_groups.metric_name
                and added_in_priced_metrics.group_value = priced_groups.group_value

    ),

    added as (

        -- The added events' quantity per priced group (all of additive metrics, see above).
        select
            invoice_id,
            metric_name,
            group_value,
            {% if additive_metrics -%}
                {{ usage_billing.metrics_aggregate_by_name(additive_metrics) }}
            {%- else -%}
                cast(null as {{ usage_billing.type_decimal() }})
            {%- endif %} as measured_quantity,
            count(*) as event_count
        from added_in_periods
        group by invoice_id, metric_name, group_value

    ),

    stored_and_added as (

        select
            stored_periods.invoice_id,
            stored_periods.subscription_id,
            stored_periods.customer_id,
            stored_periods.period_start,
            stored_periods.period_end,
            stored_periods.metric_name,
            stored_periods.group_value,
            stored_periods.measured_quantity,
            stored_periods.quantity,
            stored_periods.event_count,
            stored_periods.pricing_fingerprint
        from {{ this }} as stored_periods
        where stored_periods.invoice_id in (select invoices_to_add_to.invoice_id from invoices_to_add_to)

        union all

        select
            invoice_id,
            null as subscription_id,
            null as customer_id,
            null as period_start,
            null as period_end,
            metric_name,
            group_value,
            measured_quantity,
            null as quantity,
            event_count,
            null as pricing_fingerprint
        from added

    ),

    added_to as (

        -- Every priced group of the period is stored (zero where nothing happened), so each
        -- added group has its stored row; a sum of sums (or counts) is the sum over all events.
        select
            invoice_id,
            max(subscription_id) as subscription_id,
            max(customer_id) as customer_id,
            max(period_start) as period_start,
            max(period_end) as period_end,
            metric_name,
            group_value,
            cast(sum(measured_quantity) as {{ usage_billing.type_decimal() }}) as measured_quantity,
            case metric_name
                {% for metric in additive_metrics -%}
                    when {{ usage_billing.sql_literal(metric['name']) }}
                        then {{ usage_billing.metric_convert(metric, 'sum(measured_quantity)') }}
                {% endfor -%}
                else max(quantity)
            end as quantity,
            cast(sum(event_count) as {{ dbt.type_bigint() }}) as event_count,
            max(pricing_fingerprint) as pricing_fingerprint
        from stored_and_added
        group by invoice_id, metric_name, group_value

    ),
{% endif %}

unioned as (

    select * from final
    {% if incremental -%}
        union all
        select * from added_to
    {%- endif %}

)

select * from unioned
