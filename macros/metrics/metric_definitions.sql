{#- The metrics declared in the var usage_billing_metrics, checked: a mistake fails at compile
    time naming the metric and the field, instead of billing wrongly. -#}
{% macro metric_definitions() %}
    {%- set supported_aggregations = ['count', 'sum'] -%}
    {%- set known_fields = [
        'name', 'description', 'event_type', 'aggregation', 'property', 'value',
        'filter', 'where', 'unit',
    ] -%}
    {%- set metrics = var('usage_billing_metrics', []) -%}
    {%- set seen_names = [] -%}
    {%- for metric in metrics -%}
        {%- set label = metric.get('name') or ('#' ~ loop.index) -%}
        {%- if not metric.get('name') -%}
            {{ exceptions.raise_compiler_error("usage_billing_metrics " ~ label ~ ": 'name' is required") }}
        {%- endif -%}
        {%- if not modules.re.match('^[a-z][a-z0-9_]*$', metric['name']) -%}
            {{ exceptions.raise_compiler_error("metric " ~ label ~ ": 'name' must be lowercase letters, digits and underscores") }}
        {%- endif -%}
        {%- if metric['name'] in seen_names -%}
            {{ exceptions.raise_compiler_error("metric " ~ label ~ ": 'name' is declared twice") }}
        {%- endif -%}
        {%- do seen_names.append(metric['name']) -%}
        {%- for field in metric -%}
            {%- if field not in known_fields -%}
                {{ exceptions.raise_compiler_error("metric " ~ label ~ ": unknown field '" ~ field ~ "' (known: " ~ known_fields | join(', ') ~ ")") }}
            {%- endif -%}
        {%- endfor -%}
        {%- if metric.get('aggregation') not in supported_aggregations -%}
            {{ exceptions.raise_compiler_error("metric " ~ label ~ ": 'aggregation' must be one of " ~ supported_aggregations | join(', ') ~ ", got '" ~ metric.get('aggregation') ~ "'") }}
        {%- endif -%}
        {%- if metric['aggregation'] != 'count' and not (metric.get('property') or metric.get('value')) -%}
            {{ exceptions.raise_compiler_error("metric " ~ label ~ ": aggregation '" ~ metric['aggregation'] ~ "' needs 'property' or 'value'") }}
        {%- endif -%}
        {%- if metric.get('property') and metric.get('value') -%}
            {{ exceptions.raise_compiler_error("metric " ~ label ~ ": give 'property' or 'value', not both") }}
        {%- endif -%}
        {%- if metric.get('filter') is not none and metric.get('filter') is not mapping -%}
            {{ exceptions.raise_compiler_error("metric " ~ label ~ ": 'filter' must map property paths to a value or a list of values") }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(metrics) }}
{% endmacro %}
