{#- A metric's field as SQL text: a dotted path into event_properties for event metrics, or a
    column of the relation for metrics read `from` a table (there the path is the column). -#}
{% macro metric_field(metric, path) %}
    {%- if metric.get('from') -%}
        {%- if '.' in path -%}
            {{ usage_billing.metric_config_error('metric ' ~ metric['name'], path, 'is a column of the relation and cannot be a dotted path') }}
        {%- endif -%}
        {{- return('cast(' ~ usage_billing.quote_column(path) ~ ' as ' ~ dbt.type_string() ~ ')') -}}
    {%- else -%}
        {{- return(usage_billing.json_extract_text('event_properties', path)) -}}
    {%- endif -%}
{% endmacro %}
