{#- The (customer_id, usage_date) pairs this run must recompute: the days the events re-checked
    in this run happened on, and the days their replaced versions happened on. -#}
{% macro changed_usage_days() %}
    {%- set validated = ref('int_usage_events_validated') -%}
    {%- set run_started = usage_billing.run_started_timestamp() -%}
    {%- set query -%}
        select customer_id, cast(event_at as date) as usage_date
        from {{ validated }}
        where processed_at = {{ run_started }} and customer_id is not null
        union
        select replaced_customer_id as customer_id, cast(replaced_event_at as date) as usage_date
        from {{ validated }}
        where processed_at = {{ run_started }} and replaced_customer_id is not null
    {%- endset -%}
    {{ return(query) }}
{% endmacro %}

{#- True for rows of metrics read from relations, which have no load time to go by. -#}
{% macro is_relation_metric(metric_column='metric_name') %}
    {%- set names = [] -%}
    {%- for metric in usage_billing.metric_definitions() if metric.get('from') -%}
        {%- do names.append(usage_billing.sql_literal(metric['name'])) -%}
    {%- endfor -%}
    {{- return(metric_column ~ ' in (' ~ names | join(', ') ~ ')' if names else '1 = 0') -}}
{% endmacro %}

{#- Pre-hook condition of metric_usage_daily: its rows of the changed days and of relation metrics. -#}
{% macro usage_days_to_recompute() %}
    {{- return(
        usage_billing.is_relation_metric() ~ ' or exists (select 1 from (' ~ usage_billing.changed_usage_days()
        ~ ') as changed_days where changed_days.customer_id = ' ~ this.identifier ~ '.customer_id'
        ~ ' and changed_days.usage_date = ' ~ this.identifier ~ '.usage_date)'
    ) -}}
{% endmacro %}
