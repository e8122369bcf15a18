{#- The where-condition selecting a metric's events: its event_type, each property filter
    (a scalar means equality, a list means any of), and the raw `where:` SQL if given. -#}
{% macro metric_filter(metric) %}
    {%- set conditions = [] -%}
    {%- if metric.get('event_type') -%}
        {%- do conditions.append('event_type = ' ~ usage_billing.sql_literal(metric['event_type'])) -%}
    {%- endif -%}
    {%- for path, expected in (metric.get('filter') or {}).items() -%}
        {%- set actual = usage_billing.json_extract_text('event_properties', path) -%}
        {%- if expected is string or expected is number or expected is boolean -%}
            {%- do conditions.append(actual ~ ' = ' ~ usage_billing.sql_literal(expected)) -%}
        {%- elif expected is sequence and expected | length > 0 -%}
            {%- set literals = [] -%}
            {%- for item in expected -%}
                {%- do literals.append(usage_billing.sql_literal(item)) -%}
            {%- endfor -%}
            {%- do conditions.append(actual ~ ' in (' ~ literals | join(', ') ~ ')') -%}
        {%- else -%}
            {{ exceptions.raise_compiler_error("metric " ~ metric['name'] ~ ": filter on '" ~ path ~ "' must be a value or a non-empty list") }}
        {%- endif -%}
    {%- endfor -%}
    {%- if metric.get('where') -%}
        {%- do conditions.append('(' ~ metric['where'] ~ ')') -%}
    {%- endif -%}
    {{- return(conditions | join(' and ') if conditions else 'true') -}}
{% endmacro %}
