{%- set metrics = usage_billing.metric_definitions() -%}

with currencies as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_currencies') }}

),

declared as (

    {% for metric in metrics %}
        select
            {{ usage_billing.sql_literal(metric['name']) }} as metric_name,
            {{ usage_billing.sql_literal(metric['aggregation']) }} as aggregation,
            cast(
                {{ usage_billing.sql_literal(usage_billing.metric_display_name(metric)) }} as {{ dbt.type_string() }}
            ) as display_name,
            cast({{ usage_billing.sql_literal(metric.get('unit') or '') }} as {{ dbt.type_string() }}) as unit,
            cast(
                {{ usage_billing.sql_literal(metric.get('description') or '') }} as {{ dbt.type_string() }}
            ) as description,
            {{ 'true' if metric.get('divide_by') or metric.get('round') else 'false' }} as is_converted
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
    {% if not metrics %}
        select
            cast(null as {{ dbt.type_string() }}) as metric_name,
            cast(null as {{ dbt.type_string() }}) as aggregation,
            cast(null as {{ dbt.type_string() }}) as display_name,
            cast(null as {{ dbt.type_string() }}) as unit,
            cast(null as {{ dbt.type_string() }}) as description,
            false as is_converted
        where false
    {% endif %}

),

final as (

    select
        declared.metric_name,
        declared.aggregation,
        declared.display_name,
        declared.unit,
        declared.description,
        declared.is_converted,
        -- A metric whose unit is a currency measures money: its rates are percentages.
        currencies.currency is not null as is_money
    from declared
    left join currencies
        on upper(declared.unit) = currencies.currency

)

select * from final
