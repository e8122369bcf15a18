{#- One row per event (or row of a metric's own relation) and metric it counts toward, with the
    value it carries. One event may count toward several metrics. Incremental: a run replaces
    the rows of the events re-checked in the same run; rows of metrics read from relations,
    which have no load time, are replaced in full every run. -#}
{%- set metrics = usage_billing.metric_definitions() -%}
{{ config(
    materialized=usage_billing.usage_materialization(),
    incremental_strategy='append',
    pre_hook="{{ usage_billing.delete_rows_to_recompute(
        'is_from_relation or event_key in (select event_key from ' ~ ref('int_usage_events_validated')
        ~ ' where processed_at = ' ~ usage_billing.run_started_timestamp() ~ ')'
    ) }}",
) }}

with accepted_events as (

    select * from {{ ref('int_usage_events_validated') }}
    {% if is_incremental() -%}
        where rejection_reason is null and processed_at = {{ usage_billing.run_started_timestamp() }}
    {%- else -%}
        where rejection_reason is null
    {%- endif %}

),

customer_aliases as (

    -- Renamed so a relation's own columns never collide with the alias table's.
    select
        customer_alias as alias_key,
        customer_id as alias_customer_id
    from {{ ref('stg_customer_aliases') }}

),

{% for metric in metrics %}
    {%- set relation = metric.get('from') %}
    {%- set alias_column = metric.get('customer_alias_column') or 'customer_alias' %}
    metric_{{ loop.index }} as (

        select
            {% if relation -%}
                cast(null as {{ dbt.type_string() }}) as event_key,
                true as is_from_relation,
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
            {%- else -%}
                event_key,
                false as is_from_relation,
                event_id,
                customer_id,
                event_at,
            {%- endif %}
            {{ usage_billing.sql_literal(metric['name']) }} as metric_name,
            {{ usage_billing.metric_group_value(metric) }} as group_value,
            {{ usage_billing.metric_value(metric) }} as metric_value,
            {{ usage_billing.metric_value_text(metric) }} as metric_value_text,
            {{ usage_billing.run_started_timestamp() }} as processed_at
        {% if relation and relation.get('source') -%}
            from {{ source(relation['source'][0], relation['source'][1]) }} as metric_relation
        {%- elif relation -%}
            from {{ ref(relation['ref']) }} as metric_relation
        {%- else -%}
            from accepted_events
        {%- endif %}
        {% if relation and not metric.get('customer_id_column') -%}
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

    {% for metric in metrics %}
        select * from metric_{{ loop.index }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
    {% if not metrics %}
        select
            event_key,
            false as is_from_relation,
            event_id,
            customer_id,
            event_at,
            cast(null as {{ dbt.type_string() }}) as metric_name,
            cast(null as {{ dbt.type_string() }}) as group_value,
            cast(null as {{ usage_billing.type_decimal() }}) as metric_value,
            cast(null as {{ dbt.type_string() }}) as metric_value_text,
            {{ usage_billing.run_started_timestamp() }} as processed_at
        from accepted_events
        where false
    {% endif %}

)

select * from unioned
