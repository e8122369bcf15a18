{#- True when a UTC event_at lies in the event contract's range (event_contract(),
    docs/events.md). -#}
{% macro event_at_in_range(event_at) %}
    {{- return(adapter.dispatch('event_at_in_range', 'usage_billing')(event_at)) -}}
{% endmacro %}

{% macro default__event_at_in_range(event_at) -%}
    {%- set contract = usage_billing.event_contract() -%}
    ({{ event_at }} >= cast('{{ contract['earliest_event_at'] }}' as {{ dbt.type_timestamp() }})
        and {{ event_at }} < cast('{{ contract['latest_event_at'] }}' as {{ dbt.type_timestamp() }}))
{%- endmacro %}

{#- BigQuery's event_at is a DATETIME (parse_timestamp_utc), which a TIMESTAMP cannot be
    compared with. -#}
{% macro bigquery__event_at_in_range(event_at) -%}
    {%- set contract = usage_billing.event_contract() -%}
    ({{ event_at }} >= datetime '{{ contract['earliest_event_at'] }}'
        and {{ event_at }} < datetime '{{ contract['latest_event_at'] }}')
{%- endmacro %}
