{#- A metric's field as SQL text: a dotted path into event_properties for event metrics, or a
    column of the relation for metrics read `from` a table (there the path is the column).
    `fields` maps paths to expressions already extracted (usage_billing.event_property_fields),
    so an event's properties are parsed once for all metrics, not once per use. -#}
{% macro metric_field(metric, path, fields=none) %}
    {%- if metric.get('from') -%}
        {%- if '.' in path -%}
            {{ usage_billing.metric_config_error('metric ' ~ metric['name'], path, 'is a column of the relation and cannot be a dotted path') }}
        {%- endif -%}
        {{- return('cast(' ~ usage_billing.quote_column(path) ~ ' as ' ~ dbt.type_string() ~ ')') -}}
    {%- elif fields and path in fields -%}
        {{- return(fields[path]) -}}
    {%- else -%}
        {{- return(usage_billing.json_extract_text('event_properties', path)) -}}
    {%- endif -%}
{% endmacro %}

{#- Every property path the event metrics read (values, filters, group_by), in first-use order. -#}
{% macro event_property_paths(metrics) %}
    {%- set paths = [] -%}
    {%- for metric in metrics if not metric.get('from') -%}
        {%- for path in ([metric['property']] if metric.get('property') else [])
            + ((metric.get('filter') or {}).keys() | list) + (metric.get('group_by') or []) -%}
            {%- if path not in paths -%}{%- do paths.append(path) -%}{%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {{- return(paths) -}}
{% endmacro %}

{#- The `fields` argument of metric_field: each path read from `parsed`, a column holding
    usage_billing.json_texts_parsed(event_properties, paths). -#}
{% macro event_property_fields(parsed, paths) %}
    {%- set fields = {} -%}
    {%- for path in paths -%}
        {%- do fields.update({path: usage_billing.json_text_of_parsed(parsed, 'event_properties', paths, path)}) -%}
    {%- endfor -%}
    {{- return(fields) -}}
{% endmacro %}
