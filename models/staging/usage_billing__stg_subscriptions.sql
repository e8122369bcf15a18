{%- set subscriptions = usage_billing.pricing_relation('subscriptions') -%}

with source as (

    select * from {{ subscriptions }}

),

renamed as (

    select
        cast(subscription_id as {{ dbt.type_string() }}) as subscription_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(plan_id as {{ dbt.type_string() }}) as plan_id,
        upper(cast(currency as {{ dbt.type_string() }})) as currency,
        cast(start_date as date) as start_date,
        cast(end_date as date) as end_date,
        lower(cast(coalesce(billing_interval, 'month') as {{ dbt.type_string() }})) as billing_interval,
        cast(coalesce(billing_anchor_day, 1) as {{ dbt.type_int() }}) as billing_anchor_day,
        cast(minimum_amount as {{ usage_billing.type_decimal() }}) as minimum_amount,
        -- Added with threshold billing (docs/usage-controls.md): optional, so subscriptions
        -- tables made before it keep working; empty bills only at the period's end.
        {{ usage_billing.optional_column(
            subscriptions, 'threshold_billing_amount', usage_billing.type_decimal()
        ) }} as threshold_billing_amount,
        -- Parent accounts (docs/pricing.md): none, pooled or separate; optional, empty is none.
        lower(coalesce(
            nullif({{ usage_billing.optional_column(subscriptions, 'child_usage', dbt.type_string()) }}, ''), 'none'
        )) as child_usage
    from source

)

select * from renamed
