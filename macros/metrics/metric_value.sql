{#- The value an event carries for a metric, as text: the property (a dotted path, or a column
    of a relation) or the `value:` SQL expression. 1 for count. -#}
{% macro metric_value_text(metric, fields=none) %}
    {%- if metric.get('property') -%}
        {{- return(usage_billing.metric_field(metric, metric['property'], fields)) -}}
    {%- elif metric.get('value') -%}
        {{- return('cast((' ~ metric['value'] ~ ') as ' ~ dbt.type_string() ~ ')') -}}
    {%- else -%}
        {{- return("'1'") -}}
    {%- endif -%}
{% endmacro %}

{#- The same value as an exact decimal; empty when it is not a number. -#}
{% macro metric_value(metric, fields=none) %}
    {{- return(usage_billing.try_cast_decimal(usage_billing.metric_value_text(metric, fields))) -}}
{% endmacro %}

{#- True for an event a numeric metric selects whose value is present but not a number: such an
    event is rejected as bad_value rather than silently counted as nothing. -#}
{% macro metric_has_bad_value(metric, fields=none) %}
    {%- if not usage_billing.metric_is_numeric(metric) -%}
        {{- return('false') -}}
    {%- endif -%}
    {{- return(
        '(' ~ usage_billing.metric_filter(metric, fields) ~ ' and ' ~ usage_billing.metric_value_text(metric, fields)
        ~ ' is not null and ' ~ usage_billing.metric_value(metric, fields) ~ ' is null)'
    ) -}}
{% endmacro %}

{#- True when no event metric finds a bad value in the event (used on raw events). -#}
{% macro metric_values_are_valid(fields=none) %}
    {%- set checks = [] -%}
    {%- for metric in usage_billing.metric_definitions() if not metric.get('from') -%}
        {%- if usage_billing.metric_is_numeric(metric) -%}
            {%- do checks.append(usage_billing.metric_has_bad_value(metric, fields)) -%}
        {%- endif -%}
    {%- endfor -%}
    {{- return('not coalesce(' ~ (checks | join(' or ') if checks else 'false') ~ ', false)') -}}
{% endmacro %}

{#- The metric's group: its group_by values joined by '|' in the order declared, or empty when
    it has no group_by or an event lacks one of the dimensions (that group uses the default price). -#}
{% macro metric_group_value(metric, fields=none) %}
    {%- set group_by = metric.get('group_by') or [] -%}
    {%- if not group_by -%}
        {{- return('cast(null as ' ~ dbt.type_string() ~ ')') -}}
    {%- endif -%}
    {%- set parts = [] -%}
    {%- for path in group_by -%}
        {%- if not loop.first -%}{%- do parts.append("'|'") -%}{%- endif -%}
        {%- do parts.append(usage_billing.metric_field(metric, path, fields)) -%}
    {%- endfor -%}
    {#- concat of a null is null in every supported engine, which makes the group empty. -#}
    {{- return(dbt.concat(parts) if parts | length > 1 else parts[0]) -}}
{% endmacro %}

{#- metric_value_text where an aggregate may read it (count_distinct, custom), else empty: it
    is stored per event and metric, and the text of every summed amount was written for nothing. -#}
{% macro metric_value_text_if_counted(metric, fields=none) %}
    {%- if metric['aggregation'] in ['count_distinct', 'custom'] -%}
        {{- return(usage_billing.metric_value_text(metric, fields)) -}}
    {%- endif -%}
    {{- return('cast(null as ' ~ dbt.type_string() ~ ')') -}}
{% endmacro %}
