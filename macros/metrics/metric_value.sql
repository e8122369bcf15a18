{#- The quantity one event contributes to a metric, as an exact decimal: 1 for count, else the
    property (dotted path into event_properties) or the `value:` SQL expression. -#}
{% macro metric_value(metric) %}
    {%- if metric['aggregation'] == 'count' -%}
        cast(1 as {{ usage_billing.type_decimal() }})
    {%- elif metric.get('property') -%}
        {{ dbt.safe_cast(usage_billing.json_extract_text('event_properties', metric['property']), usage_billing.type_decimal()) }}
    {%- else -%}
        cast(({{ metric['value'] }}) as {{ usage_billing.type_decimal() }})
    {%- endif -%}
{% endmacro %}
