{%- set metrics = usage_billing.metric_definitions() -%}

with accepted_events as (

    select * from {{ ref('int_usage_events_validated') }}
    where rejection_reason is null

),

{% for metric in metrics %}
    metric_{{ loop.index }} as (

        select
            event_id,
            customer_id,
            event_at,
            {{ usage_billing.sql_literal(metric['name']) }} as metric_name,
            cast(null as {{ dbt.type_string() }}) as group_value,
            {{ usage_billing.metric_value(metric) }} as metric_value
        from accepted_events
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
            event_id,
            customer_id,
            event_at,
            cast(null as {{ dbt.type_string() }}) as metric_name,
            cast(null as {{ dbt.type_string() }}) as group_value,
            cast(null as {{ usage_billing.type_decimal() }}) as metric_value
        from accepted_events
        where false
    {% endif %}

)

select * from unioned
