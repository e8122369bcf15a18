{#- Operators a property filter may use: {operator: operand}. -#}
{% macro metric_filter_operators() %}
    {{ return(['eq', 'ne', 'in', 'not_in', 'exists', 'gt', 'gte', 'lt', 'lte']) }}
{% endmacro %}

{#- A filter's condition as {operator: operand}: a mapping as it is, a single value as equality,
    a list as any of (`in`). The build's filter and the server's journal rule read it alike. -#}
{% macro filter_condition_operators(condition) %}
    {%- if condition is mapping -%}
        {{ return(condition) }}
    {%- elif condition is string or condition is number or condition is boolean -%}
        {{ return({'eq': condition}) }}
    {%- endif -%}
    {{ return({'in': condition}) }}
{% endmacro %}

{#- The where-condition selecting a metric's events: its event_type, each property filter, and
    the raw `where:` SQL. A filter maps a dotted path to a value (equality), a list (any of), or
    operators: {ne: x}, {in: [..]}, {not_in: [..]}, {exists: true|false}, {gt|gte|lt|lte: n}.
    Text operators compare the JSON value as text; gt/gte/lt/lte compare it as a number. -#}
{% macro metric_filter(metric, fields=none) %}
    {%- set conditions = [] -%}
    {%- if metric.get('event_type') -%}
        {%- do conditions.append('event_type = ' ~ usage_billing.sql_literal(metric['event_type'])) -%}
    {%- endif -%}
    {%- for path, condition in (metric.get('filter') or {}).items() -%}
        {%- set actual = usage_billing.metric_field(metric, path, fields) -%}
        {%- for operator, operand in usage_billing.filter_condition_operators(condition).items() -%}
            {%- do conditions.append(usage_billing.metric_filter_condition(metric, path, actual, operator, operand)) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- if metric.get('where') -%}
        {%- do conditions.append('(' ~ metric['where'] ~ ')') -%}
    {%- endif -%}
    {{- return('(' ~ (conditions | join(' and ') if conditions else '1 = 1') ~ ')') -}}
{% endmacro %}

{% macro metric_filter_condition(metric, path, actual, operator, operand) %}
    {%- set label = 'metric ' ~ metric['name'] -%}
    {%- if operator in ['in', 'not_in'] -%}
        {%- if operand is string or operand is mapping or operand is not iterable or operand | length == 0 -%}
            {{ usage_billing.metric_config_error(label, 'filter', "on '" ~ path ~ "': " ~ operator ~ ' needs a non-empty list') }}
        {%- endif -%}
        {%- set literals = [] -%}
        {%- for item in operand -%}
            {%- do literals.append(usage_billing.sql_literal(item)) -%}
        {%- endfor -%}
        {%- if operator == 'in' -%}
            {{- return(actual ~ ' in (' ~ literals | join(', ') ~ ')') -}}
        {%- endif -%}
        {#- A missing property is "not in" any list. -#}
        {{- return('coalesce(' ~ actual ~ ' not in (' ~ literals | join(', ') ~ '), true)') -}}
    {%- elif operator == 'exists' -%}
        {%- if operand is not boolean -%}
            {{ usage_billing.metric_config_error(label, 'filter', "on '" ~ path ~ "': exists needs true or false") }}
        {%- endif -%}
        {{- return(actual ~ (' is not null' if operand else ' is null')) -}}
    {%- elif operator in ['gt', 'gte', 'lt', 'lte'] -%}
        {%- if operand is not number or operand is boolean -%}
            {{ usage_billing.metric_config_error(label, 'filter', "on '" ~ path ~ "': " ~ operator ~ ' needs a number') }}
        {%- endif -%}
        {%- set symbol = {'gt': '>', 'gte': '>=', 'lt': '<', 'lte': '<='}[operator] -%}
        {{- return(usage_billing.try_cast_decimal(actual) ~ ' ' ~ symbol ~ ' ' ~ operand) -}}
    {%- elif operator == 'ne' -%}
        {{- return('coalesce(' ~ actual ~ ' <> ' ~ usage_billing.sql_literal(operand) ~ ', true)') -}}
    {%- else -%}
        {%- if operand is mapping or (operand is iterable and operand is not string) -%}
            {{ usage_billing.metric_config_error(label, 'filter', "on '" ~ path ~ "': eq needs a single value") }}
        {%- endif -%}
        {{- return(actual ~ ' = ' ~ usage_billing.sql_literal(operand)) -}}
    {%- endif -%}
{% endmacro %}
