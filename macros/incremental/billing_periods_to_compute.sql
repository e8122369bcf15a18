{#- int_usage_by_billing_period's incremental bookkeeping: which periods a run computes. A full
    build: every one (`priced_metrics` is all_priced_metrics). A delta run: those it computes
    again and those it adds to. CTEs, written where the model's `with` list needs them; they
    read its CTEs `events` (int_usage_events_matched_to_metrics), `all_priced_metrics` and
    `pricing_fingerprints`, and its stored rows.
    - invoices_to_recompute: periods where a version this run replaced used to count, where an
      event of a metric that is not additive changed (and the later periods of gauges, whose
      level carries on), whose priced metrics and groups changed or are new, live periods of
      gauges (their level is held up to the billing clock), and periods of relation metrics;
    - invoices_to_add_to: every other period with new events (all of count and sum metrics):
      the stored quantities plus those of the added events;
    - added_in_priced_metrics: each added event in the period that prices its metric (for a
      child's event, the parent's period that bills it: all_priced_metrics.usage_customer_id);
    - priced_metrics, priced_metrics_added_to: the priced metrics of those two sets. -#}
{% macro billing_periods_to_compute(model_name, incremental) %}
    {%- if not incremental %}
priced_metrics as (

    select * from all_priced_metrics

),
    {%- else %}

    {%- set gauge_names = [] -%}
    {%- set relation_names = [] -%}
    {%- for metric in usage_billing.metric_definitions() -%}
        {%- if metric['aggregation'] == 'time_weighted' -%}
            {%- do gauge_names.append(usage_billing.sql_literal(metric['name'])) -%}
        {%- endif -%}
        {%- if metric.get('from') -%}
            {%- do relation_names.append(usage_billing.sql_literal(metric['name'])) -%}
        {%- endif -%}
    {%- endfor -%}
    added_events as (

        -- This run's new and changed events, of metrics read from the event table.
        select * from events
        where {{ usage_billing.is_unconsumed_change(model_name) }} and not is_from_relation

    ),

    replaced_versions as (

        select distinct
            replaced_customer_id as customer_id,
            replaced_event_at as event_at
        from {{ ref('usage_billing', 'usage_billing__int_usage_events_validated') }}
        where {{ usage_billing.is_unconsumed_change(model_name) }} and replaced_customer_id is not null

    ),

    added_in_priced_metrics as (

        -- Each added event in the period that prices its metric (joined once, read twice: which
        -- periods change, and the added quantities).
        select
            all_priced_metrics.invoice_id,
            all_priced_metrics.child_customer_id,
            added_events.metric_name,
            added_events.group_value,
            added_events.metric_value,
            added_events.metric_value_text
        from all_priced_metrics
        inner join added_events
            on
                all_priced_metrics.usage_customer_id = added_events.customer_id
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
                all_priced_metrics.usage_customer_id = replaced_versions.customer_id
                and all_priced_metrics.period_start <= replaced_versions.event_at
                and all_priced_metrics.period_end > replaced_versions.event_at

        {{ usage_billing.union_distinct() }}

        select invoice_id
        from added_in_priced_metrics
        where {{ usage_billing.is_non_additive_metric() }}

        {{ usage_billing.union_distinct() }}

        select pricing_fingerprints.invoice_id
        from pricing_fingerprints
        left join stored_fingerprints
            on pricing_fingerprints.invoice_id = stored_fingerprints.invoice_id
        where
            stored_fingerprints.pricing_fingerprint is null
            or stored_fingerprints.pricing_fingerprint <> pricing_fingerprints.pricing_fingerprint

        {% if gauge_names -%}
            {{ usage_billing.union_distinct() }}

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
                    all_priced_metrics.usage_customer_id = changed_since.customer_id
                    and all_priced_metrics.period_end > changed_since.changed_from_at
            where all_priced_metrics.metric_name in ({{ gauge_names | join(', ') }})

            {{ usage_billing.union_distinct() }}

            select invoice_id
            from all_priced_metrics
            where
                metric_name in ({{ gauge_names | join(', ') }})
                and period_end > {{ usage_billing.as_of_timestamp() }}
        {%- endif %}

        {% if relation_names -%}
            {{ usage_billing.union_distinct() }}

            select invoice_id
            from all_priced_metrics
            where metric_name in ({{ relation_names | join(', ') }})
        {%- endif %}

    ),

    invoices_to_add_to as (

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
    {%- endif %}
{%- endmacro %}
