with source as (

    select * from {{ usage_billing.pricing_relation('customers') }}

),

renamed as (

    select
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(name as {{ dbt.type_string() }}) as customer_name,
        cast(billing_email as {{ dbt.type_string() }}) as billing_email,
        cast(coalesce(timezone, 'UTC') as {{ dbt.type_string() }}) as timezone
    from source

)

select * from renamed
