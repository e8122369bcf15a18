with source as (

    select * from {{ usage_billing.pricing_relation('credit_grants') }}

),

renamed as (

    select
        cast(grant_id as {{ dbt.type_string() }}) as grant_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        upper(cast(currency as {{ dbt.type_string() }})) as currency,
        cast(amount as {{ usage_billing.type_decimal() }}) as amount,
        cast(granted_at as {{ dbt.type_timestamp() }}) as granted_at,
        cast(expires_at as {{ dbt.type_timestamp() }}) as expires_at,
        cast(priority as {{ dbt.type_int() }}) as priority,
        cast(metric as {{ dbt.type_string() }}) as metric_name
    from source

)

select * from renamed
