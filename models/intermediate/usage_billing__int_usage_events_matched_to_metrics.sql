{#- One row per event (or row of a metric's own relation) and metric it counts toward, with the
    value it carries. One event may count toward several metrics. Incremental: a run replaces
    the rows of the events validated changed since the run this model last consumed (by key:
    the versions billed until then go, the new ones come; build_state.sql); rows of metrics read
    from relations, which have no load time, are replaced in full every run. A table, not a view:
    as a view, every incremental run would derive these rows again for all events. The
    properties were parsed once in int_usage_events_validated. -#}
{%- set metrics = usage_billing.metric_definitions() -%}
{%- set event_metrics = [] -%}
{%- set relation_metrics = [] -%}
{%- for metric in metrics -%}
    {%- do (relation_metrics if metric.get('from') else event_metrics).append(metric) -%}
{%- endfor -%}
{%- set property_paths = usage_billing.event_property_paths(metrics) -%}
{%- set fields = usage_billing.event_property_fields('parsed_properties', property_paths) -%}
{%- set model_name = 'usage_billing__int_usage_events_matched_to_metrics' -%}
{{ config(
    materialized=usage_billing.usage_materialization(),
    incremental_strategy='append',
    pre_hook=[
        "{{ usage_billing.prepare_build_state('usage_billing__int_usage_events_matched_to_metrics') }}",
        "{{ usage_billing.delete_rows_to_recompute(usage_billing.matched_rows_to_replace()) }}",
    ],
    post_hook="{{ usage_billing.record_build_state('usage_billing__int_usage_events_matched_to_metrics') }}",
) }}
{#- Spark's own tables replace rows by partition (macros/incremental/spark_partitions.sql). -#}
{%- if target.type == 'spark' %}{{ config(partition_by='processed_at', file_format='parquet') }}{% endif %}
{%- set incremental = usage_billing.builds_on_stored_rows(model_name) -%}
{{- usage_billing.log_build_mode(model_name) }}
{#- Its rows carry the processed_at of the validated version they come from: later models find
    the changes they have not consumed by it. -#}
{%- set consumed_through = usage_billing.timestamp_literal(usage_billing.build_mode(model_name)['through']) %}

with accepted_events as (

    select * from {{ ref('usage_billing', 'usage_billing__int_usage_events_validated') }}
    {% if incremental -%}
        where rejection_reason is null and {{ usage_billing.is_unconsumed_change(model_name) }}
    {%- else -%}
        where rejection_reason is null
    {%- endif %}

),

{% if relation_metrics %}
    customer_aliases as (

        -- Renamed so a relation's own columns never collide with the alias table's.
        select
            customer_alias as alias_key,
            customer_id as alias_customer_id
        from {{ ref('usage_billing', 'usage_billing__stg_customer_aliases') }}

    ),
{% endif %}

{% if event_metrics %}
    {%- set earlier_filters = [] %}
    event_metric_indexes as (

        {% for metric in event_metrics -%}
            select {{ loop.index }} as metric_index
            {% if not loop.last %}union all{% endif %}
        {% endfor %}

    ),

    event_metric_matches as (

        -- One pass over the events for every event metric: each event pairs with the metrics
        -- whose filter it meets.
        select
            accepted_events.*,
            event_metric_indexes.metric_index
        from accepted_events
        cross join event_metric_indexes
        where
            case event_metric_indexes.metric_index
                {% for metric in event_metrics -%}
                    when {{ loop.index }} then {{ usage_billing.metric_filter(metric, fields) }}
                {% endfor -%}
            end

    ),

    event_metric_rows as (

        select
            false as is_from_relation,
            -- The one row of each event that counts it among the accepted events (the first
            -- metric it counts toward): the reconciliation counts these rows, not distinct ids.
            case metric_index
                {% for metric in event_metrics -%}
                    when {{ loop.index }} then {{ 'true' if loop.first else 'not (' ~ earlier_filters | join(' or ') ~ ')' }}
                    {%- do earlier_filters.append('coalesce(' ~ usage_billing.metric_filter(metric, fields) ~ ', false)') %}
                {% endfor -%}
            end as is_first_match_of_event,
            -- An accepted event's key is its event_id (validated keeps the id itself for rejects).
            event_key as event_id,
            customer_id,
            event_at,
            {%- for column, expression in [
                ('metric_name', usage_billing.sql_literal),
                ('group_value', usage_billing.metric_group_value),
                ('metric_value', usage_billing.metric_value),
                ('metric_value_text', usage_billing.metric_value_text_if_counted),
            ] %}
                case metric_index
                    {% for metric in event_metrics -%}
                        when {{ loop.index }} then {{
                            expression(metric['name']) if column == 'metric_name' else expression(metric, fields)
                        }}
                    {% endfor -%}
                end as {{ column }},
            {%- endfor %}
            processed_at
        from event_metric_matches

    ),
{% endif %}

{% for metric in relation_metrics %}
    {%- set relation = metric.get('from') %}
    {%- set alias_column = metric.get('customer_alias_column') or 'customer_alias' %}
    {#- {ref: [package, model]} names the model's package; a bare name resolves only through
        dbt's fallback to the root project, with a warning on every run. -#}
    {%- set relation_table = source(relation['source'][0], relation['source'][1]) if relation.get('source')
        else ref(relation['ref']) if relation['ref'] is string else ref(relation['ref'][0], relation['ref'][1]) %}
    relation_metric_{{ loop.index }} as (

        select
            true as is_from_relation,
            false as is_first_match_of_event,
            {% if metric.get('id_column') -%}
                cast({{ usage_billing.quote_column(metric['id_column']) }} as {{ dbt.type_string() }}) as event_id,
            {%- else -%}
                cast(null as {{ dbt.type_string() }}) as event_id,
            {%- endif %}
            {% if metric.get('customer_id_column') -%}
                cast({{ usage_billing.quote_column(metric['customer_id_column']) }} as {{ dbt.type_string() }}) as customer_id,
            {%- else -%}
                customer_aliases.alias_customer_id as customer_id,
            {%- endif %}
            {{ usage_billing.parse_timestamp_utc(
                'cast(' ~ usage_billing.quote_column(metric['timestamp_column']) ~ ' as ' ~ dbt.type_string() ~ ')'
            ) }} as event_at,
            {{ usage_billing.sql_literal(metric['name']) }} as metric_name,
            {{ usage_billing.metric_group_value(metric) }} as group_value,
            {{ usage_billing.metric_value(metric) }} as metric_value,
            {{ usage_billing.metric_value_text_if_counted(metric) }} as metric_value_text,
            {{ consumed_through }} as processed_at
        from {{ relation_table }} as metric_relation
        {% if not metric.get('customer_id_column') -%}
            inner join customer_aliases
                on
                    cast(
                        metric_relation.{{ usage_billing.quote_column(alias_column) }}
                        as {{ dbt.type_string() }}
                    ) = customer_aliases.alias_key
        {%- endif %}
        where {{ usage_billing.metric_filter(metric) }}

    ),

{% endfor %}
unioned as (

    {% if event_metrics -%}
        select * from event_metric_rows
        {% if relation_metrics %}union all{% endif %}
    {% endif %}
    {% for metric in relation_metrics %}
        select * from relation_metric_{{ loop.index }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
    {% if not metrics %}
        select
            false as is_from_relation,
            false as is_first_match_of_event,
            event_key as event_id,
            customer_id,
            event_at,
            cast(null as {{ dbt.type_string() }}) as metric_name,
            cast(null as {{ dbt.type_string() }}) as group_value,
            cast(null as {{ usage_billing.type_decimal() }}) as metric_value,
            cast(null as {{ dbt.type_string() }}) as metric_value_text,
            processed_at
        from accepted_events
        where false
    {% endif %}

)

select * from unioned
