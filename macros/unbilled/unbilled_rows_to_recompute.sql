{#- What an incremental run of unbilled_usage recomputes, per customer and UTC day, since a row's
    reason depends on more than its events (docs/unbilled-usage.md): the days where a replaced
    version counted (a correction, an event rejected now or re-pointed: both the new version's
    day and the replaced one's), and those of new events of metrics that are not additive;
    every day of a customer whose billing windows changed; every day from the one the billing
    clock moved over on; and, every run, the rows of gauges (a new report ends the level of the
    one before it, on another day) and of metrics read from relations (no load time to go by).
    The other new events, of count and sum metrics or of no metric, are classified alone and
    added to the stored rows of their keys (unbilled_usage's `added`), as metric_usage_daily
    adds them. Changed metric definitions rebuild it in full (build_state.sql). -#}

{% macro unbilled_model_name() %}{{ return('usage_billing__unbilled_usage') }}{% endmacro %}

{#- (customer_id, usage_date) of the days recomputed from all their events: where a version this
    run consumes replaced another (the new version's day and the replaced one's), and where a
    new event of a metric that is neither additive nor a gauge counts (a day's max or latest is
    no sum of the stored one and the new events'; gauges are recomputed every run). -#}
{% macro unbilled_changed_event_days() %}
    {%- set changed = usage_billing.is_unconsumed_change(usage_billing.unbilled_model_name()) -%}
    {%- set validated = ref('usage_billing', 'usage_billing__int_usage_events_validated') -%}
    {%- set recounted = usage_billing.non_additive_metrics()
        | rejectattr('aggregation', 'equalto', 'time_weighted') | list -%}
    select customer_id, cast(event_at as date) as usage_date
    from {{ validated }}
    where {{ changed }} and customer_id is not null and replaced_customer_id is not null
    {{ usage_billing.union_distinct() }}
    select replaced_customer_id as customer_id, cast(replaced_event_at as date) as usage_date
    from {{ validated }}
    where {{ changed }} and replaced_customer_id is not null
    {%- if recounted %}
        {{ usage_billing.union_distinct() }}
        select customer_id, cast(event_at as date) as usage_date
        from {{ ref('usage_billing', 'usage_billing__int_usage_events_matched_to_metrics') }}
        where {{ changed }} and not is_from_relation and {{ usage_billing.metric_name_in(recounted, 'metric_name') }}
    {%- endif %}
{% endmacro %}

{#- Whether a row (or an event's) is recomputed: `usage_date` its day, `is_listed` whether its
    customer or its customer's day is listed above, `metric_row` the alias of a row with
    metric_name and is_from_relation (none for an event of int_usage_events_validated). Never
    null on a stored row (Spark keeps a partition's rows where the negation holds): only
    relation rows lack a day or a customer, and a metric name is compared as text. -#}
{% macro is_unbilled_row_recomputed(usage_date, is_listed, metric_row=none) %}
    {%- if usage_billing.build_mode(usage_billing.unbilled_model_name())['mode'] == 'full' -%}
        {{- return('1 = 1') -}}
    {%- endif -%}
    {%- set conditions = [is_listed] -%}
    {%- if metric_row -%}
        {%- set gauges = [] -%}
        {%- for metric in usage_billing.metric_definitions() if metric['aggregation'] == 'time_weighted' -%}
            {%- do gauges.append(metric) -%}
        {%- endfor -%}
        {#- By metric name, a constant false where no such metric is defined: a condition on a
            column of every row makes the engine read that column of every event, in a run with
            nothing new too, where a condition on processed_at alone is answered from the zone
            maps. A relation metric's rows are the rows from relations (is_from_relation). -#}
        {%- set metric_name = 'coalesce(' ~ metric_row ~ ".metric_name, '')" -%}
        {%- do conditions.append(usage_billing.is_relation_metric(metric_name)) -%}
        {%- do conditions.append(usage_billing.metric_name_in(gauges, metric_name)) -%}
    {%- endif -%}
    {%- set clock_moved_from = usage_billing.unbilled_clock_moved_from() -%}
    {%- if clock_moved_from == 'all' -%}
        {%- do conditions.append('1 = 1') -%}
    {%- elif clock_moved_from is not none -%}
        {%- do conditions.append(usage_date ~ " >= cast('" ~ clock_moved_from.strftime('%Y-%m-%d') ~ "' as date)") -%}
    {%- endif -%}
    {{- return('(' ~ conditions | join(' or ') ~ ')') -}}
{% endmacro %}

{#- Pre-hook condition over the model's own rows. -#}
{% macro unbilled_rows_to_recompute() %}
    {%- set row = this.identifier -%}
    {{- return(usage_billing.is_unbilled_row_recomputed(
        row ~ '.usage_date',
        'exists (select 1 from (' ~ usage_billing.unbilled_changed_event_days() ~ ') as changed_days'
        ~ ' where changed_days.customer_id = ' ~ row ~ '.customer_id and changed_days.usage_date = '
        ~ row ~ '.usage_date) or ' ~ row ~ '.customer_id in (select customer_id from ('
        ~ usage_billing.unbilled_customers_to_recompute() ~ ') as changed_customers)',
        row,
    )) -}}
{% endmacro %}

{#- CTEs `<name>_to_recompute` of `source` (a CTE of matched rows, with metric_name, or of
    validated events): its rows whose usage is recomputed, as the CTEs `changed_days` and
    `changed_customers` list them (written first, by unbilled_changes), the rows every run
    recomputes, and the new events added to stored rows. Three disjoint branches of inner joins,
    not left joins filtered by an `or`: the engine then carries only the rows it keeps (DuckDB
    carried all 10 M events of the benchmark through both left joins and the anti-join after
    them). -#}
{% macro unbilled_share(name, source, metric_rows) %}
    {%- set day = 'cast(' ~ source ~ '.event_at as date)' %}
    {{ name }}_to_recompute as (

        -- Changed days of customers whose windows did not change.
        select {{ source }}.*
        from {{ source }}
        inner join changed_days
            on
                {{ source }}.customer_id = changed_days.customer_id
                and {{ day }} = changed_days.usage_date
        left join changed_customers
            on {{ source }}.customer_id = changed_customers.customer_id
        where changed_customers.customer_id is null

        union all

        -- Every day of customers whose windows changed.
        select {{ source }}.*
        from {{ source }}
        inner join changed_customers
            on {{ source }}.customer_id = changed_customers.customer_id

        union all

        -- Rows recomputed on every run (gauges, relation metrics, days the clock moved over),
        -- and this run's new events elsewhere (added to the stored rows), that the branches
        -- above do not hold.
        select {{ source }}.*
        from {{ source }}
        left join changed_days
            on
                {{ source }}.customer_id = changed_days.customer_id
                and {{ day }} = changed_days.usage_date
        left join changed_customers
            on {{ source }}.customer_id = changed_customers.customer_id
        where
            (
                {{ usage_billing.is_unbilled_row_recomputed(day, 'false', source if metric_rows else none) }}
                or {{ usage_billing.is_unconsumed_change(usage_billing.unbilled_model_name(), source ~ '.processed_at') }}
            )
            and changed_days.customer_id is null
            and changed_customers.customer_id is null

    ),
{% endmacro %}

{% macro unbilled_changes() %}
    changed_days as (

        {{ usage_billing.unbilled_changed_event_days() }}

    ),

    changed_customers as (

        {{ usage_billing.unbilled_customers_to_recompute() }}

    ),
{% endmacro %}
