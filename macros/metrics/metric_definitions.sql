{#- The metrics declared in the var usage_billing_metrics, checked: a mistake fails at compile
    time naming the metric and the field, instead of billing wrongly. -#}
{% macro metric_definitions() %}
    {%- set aggregations = [
        'count', 'sum', 'count_distinct', 'min', 'max', 'avg', 'latest', 'time_weighted', 'custom',
    ] -%}
    {%- set known_fields = [
        'name', 'display_name', 'description', 'event_type', 'aggregation', 'property', 'value', 'expression',
        'filter', 'where', 'unit', 'group_by', 'from', 'customer_alias_column',
        'customer_id_column', 'timestamp_column', 'id_column', 'divide_by', 'round', 'precision',
        'time_unit',
    ] -%}
    {%- set path_pattern = '^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)*\\Z' -%}
    {%- set metrics = var('usage_billing_metrics', []) -%}
    {%- set seen_names = [] -%}
    {%- for metric in metrics -%}
        {%- set label = 'metric ' ~ (metric.get('name') or '#' ~ loop.index) -%}
        {%- if not metric.get('name') -%}{{ usage_billing.metric_config_error(label, 'name', 'is required') }}{%- endif -%}
        {%- if not modules.re.match('^[a-z][a-z0-9_]*\\Z', metric['name']) -%}
            {{ usage_billing.metric_config_error(label, 'name', 'must be lowercase letters, digits and underscores') }}
        {%- endif -%}
        {%- if metric['name'] in seen_names -%}{{ usage_billing.metric_config_error(label, 'name', 'is declared twice') }}{%- endif -%}
        {%- do seen_names.append(metric['name']) -%}
        {%- for field in metric -%}
            {%- if field not in known_fields -%}
                {{ usage_billing.metric_config_error(label, field, 'is not a metric field (known: ' ~ known_fields | join(', ') ~ ')') }}
            {%- endif -%}
        {%- endfor -%}
        {%- for field in ['display_name', 'description', 'unit'] -%}
            {%- if metric.get(field) is not none and (metric[field] is not string or not metric[field] | trim) -%}
                {{ usage_billing.metric_config_error(label, field, 'must be non-empty text') }}
            {%- endif -%}
        {%- endfor -%}
        {%- set aggregation = metric.get('aggregation') -%}
        {%- if aggregation not in aggregations -%}
            {{ usage_billing.metric_config_error(label, 'aggregation', 'must be one of ' ~ aggregations | join(', ') ~ ", got '" ~ aggregation ~ "'") }}
        {%- endif -%}
        {%- if aggregation != 'count' and not (metric.get('property') or metric.get('value')) -%}
            {{ usage_billing.metric_config_error(label, 'property', "or 'value' is needed by aggregation '" ~ aggregation ~ "'") }}
        {%- endif -%}
        {%- if metric.get('property') and metric.get('value') -%}
            {{ usage_billing.metric_config_error(label, 'value', "cannot be given together with 'property'") }}
        {%- endif -%}
        {%- if aggregation == 'custom' and not metric.get('expression') -%}
            {{ usage_billing.metric_config_error(label, 'expression', "is needed by aggregation 'custom' (an aggregate over metric_value)") }}
        {%- endif -%}
        {%- if metric.get('expression') and aggregation != 'custom' -%}
            {{ usage_billing.metric_config_error(label, 'expression', "applies only to aggregation 'custom'") }}
        {%- endif -%}
        {%- set paths = [] -%}
        {%- if metric.get('property') -%}{%- do paths.append(('property', metric['property'])) -%}{%- endif -%}
        {%- if metric.get('filter') is not none -%}
            {%- if metric['filter'] is not mapping -%}
                {{ usage_billing.metric_config_error(label, 'filter', 'must map property paths to a value, a list, or {operator: value}') }}
            {%- endif -%}
            {%- for path, condition in metric['filter'].items() -%}
                {%- do paths.append(('filter', path)) -%}
                {%- if condition is mapping -%}
                    {%- for operator in condition -%}
                        {%- if operator not in usage_billing.metric_filter_operators() -%}
                            {{ usage_billing.metric_config_error(label, 'filter', "on '" ~ path ~ "' has unknown operator '" ~ operator ~ "' (known: " ~ usage_billing.metric_filter_operators() | join(', ') ~ ')') }}
                        {%- endif -%}
                    {%- endfor -%}
                {%- endif -%}
            {%- endfor -%}
        {%- endif -%}
        {%- set group_by = metric.get('group_by') or [] -%}
        {%- if group_by is string or group_by is mapping -%}
            {{ usage_billing.metric_config_error(label, 'group_by', 'must be a list of property paths') }}
        {%- endif -%}
        {%- for path in group_by -%}{%- do paths.append(('group_by', path)) -%}{%- endfor -%}
        {%- for field, path in paths -%}
            {%- if path is not string or not modules.re.match(path_pattern, path) -%}
                {{ usage_billing.metric_config_error(label, field, "has a malformed path '" ~ (path | string | replace('\n', '\\n') | replace('\r', '\\r') | replace('\t', '\\t')) ~ "' (expected names joined by dots, like card.brand)") }}
            {%- endif -%}
        {%- endfor -%}
        {%- set relation = metric.get('from') -%}
        {%- if relation is not none -%}
            {%- if relation is not mapping or not (relation.get('source') or relation.get('ref')) -%}
                {{ usage_billing.metric_config_error(label, 'from', 'must be {source: [source_name, table_name]} or {ref: [package_name, model_name]}') }}
            {%- endif -%}
            {%- if relation.get('source') and (relation['source'] is string or relation['source'] | length != 2) -%}
                {{ usage_billing.metric_config_error(label, 'from', 'source must be a list [source_name, table_name]') }}
            {%- endif -%}
            {%- if relation.get('ref') and relation['ref'] is not string and (relation['ref'] is mapping or relation['ref'] | length != 2) -%}
                {{ usage_billing.metric_config_error(label, 'from', 'ref must be a list [package_name, model_name] or a model name') }}
            {%- endif -%}
            {%- if not metric.get('timestamp_column') -%}
                {{ usage_billing.metric_config_error(label, 'timestamp_column', "is needed by a metric read 'from' a relation") }}
            {%- endif -%}
            {%- if metric.get('event_type') -%}
                {{ usage_billing.metric_config_error(label, 'event_type', "applies only to events; use 'filter' or 'where' on a relation") }}
            {%- endif -%}
        {%- else -%}
            {%- for field in ['customer_alias_column', 'customer_id_column', 'timestamp_column', 'id_column'] -%}
                {%- if metric.get(field) -%}{{ usage_billing.metric_config_error(label, field, "applies only to metrics read 'from' a relation") }}{%- endif -%}
            {%- endfor -%}
        {%- endif -%}
        {%- if metric.get('divide_by') is not none and not (metric['divide_by'] is number and metric['divide_by'] > 0) -%}
            {{ usage_billing.metric_config_error(label, 'divide_by', 'must be a positive number') }}
        {%- endif -%}
        {%- if metric.get('round') is not none and metric['round'] not in ['up', 'down', 'half_up'] -%}
            {{ usage_billing.metric_config_error(label, 'round', "must be up, down or half_up, got '" ~ metric['round'] ~ "'") }}
        {%- endif -%}
        {%- if metric.get('precision') is not none and not (metric['precision'] is integer and 0 <= metric['precision'] <= 9) -%}
            {{ usage_billing.metric_config_error(label, 'precision', 'must be a whole number of decimals from 0 to 9') }}
        {%- endif -%}
        {%- if metric.get('time_unit') is not none and (aggregation != 'time_weighted' or metric['time_unit'] not in ['period', 'day', 'hour']) -%}
            {{ usage_billing.metric_config_error(label, 'time_unit', "applies to time_weighted metrics and must be period, day or hour") }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(metrics) }}
{% endmacro %}

{#- The name an invoice shows for a metric: its display_name, else its name in words with a
    capital first letter (paid_orders: "Paid orders"), never the raw key. -#}
{% macro metric_display_name(metric) %}
    {%- set words = metric['name'] | replace('_', ' ') -%}
    {{ return(metric.get('display_name') or (words[:1] | upper) ~ words[1:]) }}
{% endmacro %}

{#- Aggregations whose event values must be numbers; a non-number rejects the event (bad_value). -#}
{% macro metric_is_numeric(metric) %}
    {{ return(metric['aggregation'] in ['sum', 'min', 'max', 'avg', 'latest', 'time_weighted', 'custom']) }}
{% endmacro %}

{#- Stops compilation with the metric, the field and what is wrong with it. -#}
{% macro metric_config_error(label, field, problem) %}
    {{ exceptions.raise_compiler_error(label ~ ": '" ~ field ~ "' " ~ problem) }}
{% endmacro %}
