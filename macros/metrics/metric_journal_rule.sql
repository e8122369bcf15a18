{#- How the server adds a metric's events accepted since the build to the built usage
    (docs/entitlements.md): JSON text {aggregation, event_type, property, filters: [[path,
    operator, operand], ...]}, with every operand as the text the SQL filter compares (a
    boolean as true/false), or none when a single event's share cannot be computed exactly
    outside the warehouse: an aggregation other than count and sum, a metric read `from` a
    relation, a SQL `value` or `where`, a conversion (divide_by, round), or groups (an event of
    an unpriced group may count nowhere). -#}
{% macro metric_journal_rule(metric) %}
    {%- if metric['aggregation'] not in ['count', 'sum'] -%}{{ return(none) }}{%- endif -%}
    {%- for field in ['from', 'value', 'where', 'divide_by', 'round', 'group_by'] -%}
        {%- if metric.get(field) -%}{{ return(none) }}{%- endif -%}
    {%- endfor -%}
    {%- set filters = [] -%}
    {%- for path, condition in (metric.get('filter') or {}).items() -%}
        {%- for operator, operand in usage_billing.filter_condition_operators(condition).items() -%}
            {%- if operator in ['in', 'not_in'] -%}
                {%- set texts = [] -%}
                {%- for item in operand -%}{%- do texts.append(usage_billing.filter_operand_text(item)) -%}{%- endfor -%}
                {%- do filters.append([path, operator, texts]) -%}
            {%- elif operator == 'exists' -%}
                {%- do filters.append([path, operator, operand]) -%}
            {%- else -%}
                {%- do filters.append([path, operator, usage_billing.filter_operand_text(operand)]) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {{- return(tojson({
        'aggregation': metric['aggregation'],
        'event_type': metric.get('event_type'),
        'property': metric.get('property'),
        'filters': filters,
    }, sort_keys=true)) -}}
{% endmacro %}

{#- A filter operand as the text sql_literal writes into the filter: true → 'true'. -#}
{% macro filter_operand_text(value) %}
    {%- if value is sameas true or value is sameas false -%}
        {{- return(value | string | lower) -}}
    {%- endif -%}
    {{- return(value | string) -}}
{% endmacro %}
