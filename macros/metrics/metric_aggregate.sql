{#- The aggregate that turns a metric's events of one period (and group) into its quantity.
    Reads the columns metric_value (decimal), metric_value_text and recency_rank (1 = the
    period's last event with a value, recency_order). Always over the whole period: a month's max
    is not a sum of daily maxes. Like sum, min, max and avg, latest skips null values; with none,
    it measures nothing (0 once coalesced).
    time_weighted over a period integrates held intervals (int_usage_by_billing_period); its
    daily value, for charts, is the last level reported that day (`daily=true`). -#}
{% macro metric_aggregate(metric, daily=false) %}
    {%- set aggregation = metric['aggregation'] -%}
    {%- if aggregation == 'count' -%}
        {{- return('count(*)') -}}
    {%- elif aggregation == 'count_distinct' -%}
        {{- return('count(distinct metric_value_text)') -}}
    {%- elif aggregation in ['sum', 'min', 'max'] -%}
        {{- return(aggregation ~ '(metric_value)') -}}
    {%- elif aggregation == 'avg' -%}
        {#- sum / count exactly: avg() is floating point on some engines. -#}
        {{- return(
            'case when count(metric_value) > 0 then '
            ~ usage_billing.divide_exact('sum(metric_value)', 'count(metric_value)', 10) ~ ' end'
        ) -}}
    {%- elif aggregation == 'latest' or (aggregation == 'time_weighted' and daily) -%}
        {{- return('max(case when recency_rank = 1 then metric_value end)') -}}
    {%- elif aggregation == 'custom' -%}
        {{- return('(' ~ metric['expression'] ~ ')') -}}
    {%- else -%}
        {{ exceptions.raise_compiler_error('metric ' ~ metric['name'] ~ ": aggregation '" ~ aggregation ~ "' has no plain aggregate") }}
    {%- endif -%}
{% endmacro %}

{#- A period's quantity converted before pricing: divided by `divide_by` (bytes to GB), then
    rounded `up`, `down` or `half_up` to `precision` decimals (default 0). -#}
{% macro metric_convert(metric, quantity) %}
    {%- set converted = quantity -%}
    {%- if metric.get('divide_by') -%}
        {%- set converted = usage_billing.divide_exact(quantity, 'cast(' ~ metric['divide_by'] ~ ' as ' ~ usage_billing.type_decimal() ~ ')', 10) -%}
    {%- endif -%}
    {%- if metric.get('round') -%}
        {%- set precision = metric.get('precision') or 0 -%}
        {%- set scale = 10 ** precision -%}
        {%- set unit = ('0.' ~ '0' * (precision - 1) ~ '1') if precision > 0 else '1' -%}
        {%- if metric['round'] == 'half_up' -%}
            {%- set converted = 'round(' ~ converted ~ ', ' ~ precision ~ ')' -%}
        {%- else -%}
            {%- set function = 'ceil' if metric['round'] == 'up' else 'floor' -%}
            {#- Shift the decimals, round to a whole number, shift back by an exact multiplication. -#}
            {%- set whole = function ~ '(' ~ usage_billing.multiply_exact(converted, scale) ~ ')' -%}
            {%- set converted = usage_billing.multiply_exact(whole, 'cast(' ~ (1 / scale) ~ ' as ' ~ usage_billing.type_decimal() ~ ')') -%}
        {%- endif -%}
    {%- endif -%}
    {{- return('cast(' ~ converted ~ ' as ' ~ usage_billing.type_decimal() ~ ')') -}}
{% endmacro %}

{#- The window order of recency_rank: events with a value first, then the latest (OpenMeter's
    latest: the last non-null value), so rank 1 is a null only when every event is. -#}
{% macro recency_order() %}
    {{- return('case when metric_value is null then 1 else 0 end, event_at desc, event_id desc') -}}
{% endmacro %}

{#- True when an aggregate of these metrics reads recency_rank (latest, a gauge's daily level,
    or a custom expression that might): only then do the usage models rank events, a sort of
    every event otherwise spent for nothing. -#}
{% macro metrics_need_recency_rank(metrics, daily=false) %}
    {%- for metric in metrics -%}
        {%- if metric['aggregation'] in ['latest', 'custom'] or (daily and metric['aggregation'] == 'time_weighted') -%}
            {{- return(true) -}}
        {%- endif -%}
    {%- endfor -%}
    {{- return(false) -}}
{% endmacro %}

{#- One aggregate for all `metrics` in a query grouped by metric_name (among other keys): each
    group takes its own metric's aggregate, so the events are read once, not once per metric. -#}
{% macro metrics_aggregate_by_name(metrics, daily=false) %}
    {%- set branches = [] -%}
    {%- for metric in metrics -%}
        {%- do branches.append(
            'when ' ~ usage_billing.sql_literal(metric['name'])
            ~ ' then cast(' ~ usage_billing.metric_aggregate(metric, daily=daily) ~ ' as ' ~ usage_billing.type_decimal() ~ ')'
        ) -%}
    {%- endfor -%}
    {{- return('case metric_name ' ~ branches | join(' ') ~ ' end') -}}
{% endmacro %}
