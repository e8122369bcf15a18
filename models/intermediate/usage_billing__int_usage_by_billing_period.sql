{#- Each priced metric's quantity per billing period and priced group. Events of a group that
    has its own price are aggregated apart; all others pool into the default group (empty
    group_value) priced by the metric's default price. Parent accounts: children's events
    pooled into the period count as its own; a child priced apart (`separate`) has its own rows
    (child_customer_id). The measurement (every aggregation over
    the whole period, then converted before pricing) is usage_aggregated_in_periods.
    Incremental: a run aggregates again every event of the periods it must recompute, and adds
    to the stored quantities of every other period with new events of count and sum metrics
    (macros/incremental/billing_periods_to_compute.sql says which are which; add_to_stored merges):
    the run reads the events it added, not the whole period's. -#}
{%- set metrics = usage_billing.metric_definitions() -%}
{{ config(
    materialized=usage_billing.usage_materialization(),
    incremental_strategy='delete+insert',
    unique_key='invoice_id',
    pre_hook="{{ usage_billing.prepare_build_state('usage_billing__int_usage_by_billing_period') }}",
    post_hook="{{ usage_billing.record_build_state('usage_billing__int_usage_by_billing_period') }}",
) }}
{#- Spark's own tables replace rows by partition (macros/incremental/spark_partitions.sql). -#}
{%- if target.type == 'spark' %}{{ config(partition_by='period_start', file_format='parquet') }}{% endif %}
{%- set incremental = usage_billing.builds_on_stored_rows('usage_billing__int_usage_by_billing_period') -%}
{#- An added-to period's quantity: converted from the summed measured quantity. -#}
{%- set converted_sum = [] -%}
{%- for metric in usage_billing.additive_metrics() -%}
    {%- do converted_sum.append('when ' ~ usage_billing.sql_literal(metric['name']) ~ ' then '
        ~ usage_billing.metric_convert(metric, 'sum(measured_quantity)')) -%}
{%- endfor -%}
{%- set converted_sum = 'case metric_name ' ~ (converted_sum | join(' ')) ~ ' else max(quantity) end' -%}
{{- usage_billing.log_build_mode('usage_billing__int_usage_by_billing_period') }}
-- depends_on: {{ ref('usage_billing', 'usage_billing__int_usage_events_validated') }}

with prices_by_billing_period as (

    select * from {{ ref('usage_billing', 'usage_billing__int_prices_by_billing_period') }}

),

-- Streamed where the engine would store it: an incremental run reads it for the periods it
-- recomputes and for the events it adds, a sliver each.
events as {{ usage_billing.not_materialized() }} (

    select * from {{ ref('usage_billing', 'usage_billing__int_usage_events_matched_to_metrics') }}

),

all_priced_metrics as (

    select * from {{ ref('usage_billing', 'usage_billing__int_priced_metrics_by_billing_period') }}

),

pricing_fingerprints as (

    select * from {{ ref('usage_billing', 'usage_billing__int_pricing_fingerprints') }}

),

{{ usage_billing.billing_periods_to_compute('usage_billing__int_usage_by_billing_period', incremental) }}

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

priced_usages as (

    -- Each usage a period prices: its own (children pooled in), and each child priced apart.
    select distinct
        invoice_id,
        subscription_id,
        customer_id,
        period_start,
        period_end,
        metric_name,
        child_customer_id
    from priced_metrics

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

{{ usage_billing.usage_aggregated_in_periods(metrics) }},

final as (

    -- Every priced group of every period, with zero where nothing happened.
    select
        priced_usages.invoice_id,
        priced_usages.subscription_id,
        priced_usages.customer_id,
        priced_usages.period_start,
        priced_usages.period_end,
        priced_usages.metric_name,
        priced_groups.group_value,
        cast(coalesce(aggregated.measured_quantity, 0) as {{ usage_billing.type_decimal() }}) as measured_quantity,
        cast(coalesce(aggregated.quantity, 0) as {{ usage_billing.type_decimal() }}) as quantity,
        coalesce(aggregated.event_count, 0) as event_count,
        pricing_fingerprints.pricing_fingerprint,
        priced_usages.child_customer_id
    from priced_usages
    inner join priced_groups
        on
            priced_usages.invoice_id = priced_groups.invoice_id
            and priced_usages.metric_name = priced_groups.metric_name
    inner join pricing_fingerprints
        on priced_usages.invoice_id = pricing_fingerprints.invoice_id
    left join aggregated
        on
            priced_groups.invoice_id = aggregated.invoice_id
            and priced_groups.metric_name = aggregated.metric_name
            and coalesce(priced_groups.group_value, '') = coalesce(aggregated.group_value, '')
            and coalesce(priced_usages.child_customer_id, '') = coalesce(aggregated.child_customer_id, '')

),

{% if incremental %}
    added_in_periods as (

        select
            added_in_priced_metrics.invoice_id,
            added_in_priced_metrics.metric_name,
            -- A group without a price of its own is billed in the default group.
            priced_groups.group_value,
            added_in_priced_metrics.child_customer_id,
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
            {% if usage_billing.additive_metrics() -%}
                {{ usage_billing.metrics_aggregate_by_name(usage_billing.additive_metrics()) }}
            {%- else -%}
                cast(null as {{ usage_billing.type_decimal() }})
            {%- endif %} as measured_quantity,
            count(*) as event_count,
            child_customer_id
        from added_in_periods
        group by invoice_id, metric_name, group_value, child_customer_id

    ),

    stored_periods as (

        select * from {{ this }}
        where invoice_id in (select invoices_to_add_to.invoice_id from invoices_to_add_to)

    ),

    added_to as (

        -- Every priced group of the period is stored (zero where nothing happened), so each
        -- added group has its stored row.
        {{ usage_billing.add_to_stored('stored_periods', 'added', [
            ('invoice_id', 'key'), ('subscription_id', 'stored'), ('customer_id', 'stored'),
            ('period_start', 'stored'), ('period_end', 'stored'), ('metric_name', 'key'), ('group_value', 'key'),
            ('measured_quantity', 'sum'), ('quantity', 'stored', converted_sum), ('event_count', 'count'),
            ('pricing_fingerprint', 'stored'), ('child_customer_id', 'key'),
        ]) }}

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
