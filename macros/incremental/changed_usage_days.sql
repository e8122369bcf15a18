{#- The metrics whose quantity over more events is the stored quantity plus that of the added
    events (count and sum, of event metrics): an incremental run adds a changed day's or
    period's new events to what it stored, instead of aggregating all their events again. -#}
{% macro additive_metrics() %}
    {%- set additive = [] -%}
    {%- for metric in usage_billing.metric_definitions() -%}
        {%- if metric['aggregation'] in ['count', 'sum'] and not metric.get('from') -%}
            {%- do additive.append(metric) -%}
        {%- endif -%}
    {%- endfor -%}
    {{- return(additive) -}}
{% endmacro %}

{#- `column in (...)` over the names of these metrics; false if there are none. -#}
{% macro metric_name_in(metrics, metric_column) %}
    {%- set names = [] -%}
    {%- for metric in metrics -%}
        {%- do names.append(usage_billing.sql_literal(metric['name'])) -%}
    {%- endfor -%}
    {{- return(metric_column ~ ' in (' ~ names | join(', ') ~ ')' if names else '1 = 0') -}}
{% endmacro %}

{#- The event metrics that are not additive: their day or period is aggregated again from all
    its events when one changes. -#}
{% macro non_additive_metrics() %}
    {%- set additive_names = usage_billing.additive_metrics() | map(attribute='name') | list -%}
    {%- set non_additive = [] -%}
    {%- for metric in usage_billing.metric_definitions() -%}
        {%- if not metric.get('from') and metric['name'] not in additive_names -%}
            {%- do non_additive.append(metric) -%}
        {%- endif -%}
    {%- endfor -%}
    {{- return(non_additive) -}}
{% endmacro %}

{#- True for rows of event metrics that are not additive. -#}
{% macro is_non_additive_metric(metric_column='metric_name') %}
    {{- return(usage_billing.metric_name_in(usage_billing.non_additive_metrics(), metric_column)) -}}
{% endmacro %}

{#- True for rows of metrics read from relations, which have no load time to go by. -#}
{% macro is_relation_metric(metric_column='metric_name') %}
    {%- set relation_metrics = [] -%}
    {%- for metric in usage_billing.metric_definitions() if metric.get('from') -%}
        {%- do relation_metrics.append(metric) -%}
    {%- endfor -%}
    {{- return(usage_billing.metric_name_in(relation_metrics, metric_column)) -}}
{% endmacro %}

{#- The (customer_id, usage_date) pairs whose events metric_usage_daily aggregates again in full:
    the days where a version replaced by the changes it consumes used to count, and the days of
    those changes' events of metrics that are not additive. -#}
{% macro usage_days_to_recompute() %}
    {%- set changed = usage_billing.is_unconsumed_change('usage_billing__metric_usage_daily') -%}
    {%- set query -%}
        select replaced_customer_id as customer_id, cast(replaced_event_at as date) as usage_date
        from {{ ref('usage_billing', 'usage_billing__int_usage_events_validated') }}
        where {{ changed }} and replaced_customer_id is not null
        {{ usage_billing.union_distinct() }}
        select customer_id, cast(event_at as date) as usage_date
        from {{ ref('usage_billing', 'usage_billing__int_usage_events_matched_to_metrics') }}
        where {{ changed }} and {{ usage_billing.is_non_additive_metric() }}
    {%- endset -%}
    {{ return(query) }}
{% endmacro %}

{#- Pre-hook condition of metric_usage_daily: its rows of the days it recomputes and of relation
    metrics (rebuilt every run). -#}
{% macro usage_rows_to_recompute() %}
    {{- return(
        usage_billing.is_relation_metric() ~ ' or exists (select 1 from (' ~ usage_billing.usage_days_to_recompute()
        ~ ') as recomputed_days where recomputed_days.customer_id = ' ~ this.identifier ~ '.customer_id'
        ~ ' and recomputed_days.usage_date = ' ~ this.identifier ~ '.usage_date)'
    ) -}}
{% endmacro %}

{#- Pre-hook condition of int_usage_events_matched_to_metrics: its rows of relation metrics
    (rebuilt every run) and of the events it replaces. Consuming only validated's newest run,
    those are the events whose billed version changed (replaced_customer_id); catching up on
    several runs, every changed event, as a version stored in between may no longer show. -#}
{% macro matched_rows_to_replace() %}
    {%- set model_name = 'usage_billing__int_usage_events_matched_to_metrics' -%}
    {%- set replaced_only = usage_billing.build_mode(model_name)['mode'] == 'delta' -%}
    {{- return(
        usage_billing.is_relation_metric() ~ ' or event_id in (select event_key from '
        ~ ref('usage_billing', 'usage_billing__int_usage_events_validated') ~ ' where ' ~ usage_billing.is_unconsumed_change(model_name)
        ~ (' and replaced_customer_id is not null' if replaced_only else '') ~ ')'
    ) -}}
{% endmacro %}
