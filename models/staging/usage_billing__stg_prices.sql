{%- set prices_relation = usage_billing.pricing_relation('prices') -%}

with source as (

    select * from {{ prices_relation }}

),

renamed as (

    select
        cast(price_id as {{ dbt.type_string() }}) as price_id,
        cast(plan_id as {{ dbt.type_string() }}) as plan_id,
        cast(subscription_id as {{ dbt.type_string() }}) as subscription_id,
        cast(metric as {{ dbt.type_string() }}) as metric_name,
        lower(cast(pricing_model as {{ dbt.type_string() }})) as pricing_model,
        cast(description as {{ dbt.type_string() }}) as description,
        upper(cast(currency as {{ dbt.type_string() }})) as currency,
        cast(unit_price as {{ usage_billing.type_decimal() }}) as unit_price,
        cast(flat_amount as {{ usage_billing.type_decimal() }}) as flat_amount,
        cast(package_size as {{ usage_billing.type_decimal() }}) as package_size,
        cast(free_units as {{ usage_billing.type_decimal() }}) as free_units,
        cast(free_events as {{ dbt.type_int() }}) as free_events,
        lower(cast(coalesce(free_allowance_rule, 'events_then_units') as {{ dbt.type_string() }}))
            as free_allowance_rule,
        cast(transaction_fixed_fee as {{ usage_billing.type_decimal() }}) as transaction_fixed_fee,
        cast(transaction_minimum as {{ usage_billing.type_decimal() }}) as transaction_minimum,
        cast(transaction_maximum as {{ usage_billing.type_decimal() }}) as transaction_maximum,
        cast(minimum_amount as {{ usage_billing.type_decimal() }}) as minimum_amount,
        cast(maximum_amount as {{ usage_billing.type_decimal() }}) as maximum_amount,
        cast(group_value as {{ dbt.type_string() }}) as group_value,
        lower(cast(coalesce(billing_timing, 'in_arrears') as {{ dbt.type_string() }})) as billing_timing,
        cast(coalesce(prorate, false) as {{ dbt.type_boolean() }}) as is_prorated,
        cast(coalesce(tier_1_flat_at_zero, true) as {{ dbt.type_boolean() }}) as has_tier_1_flat_at_zero,
        cast(effective_from as date) as effective_from,
        cast(effective_to as date) as effective_to,
        -- Optional columns (one-time charges): prices tables made before them still build.
        lower(coalesce(
            {{ usage_billing.optional_column(prices_relation, 'cadence', dbt.type_string()) }}, 'every_period'
        )) as cadence,
        {{ usage_billing.optional_column(prices_relation, 'charge_date', 'date') }} as charge_date,
        -- Optional (tax): the product tax code whose rates apply to the price's lines.
        {{ usage_billing.optional_column(prices_relation, 'tax_code', dbt.type_string()) }} as tax_code
    from source

)

select * from renamed
