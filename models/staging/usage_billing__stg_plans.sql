with source as (

    select * from {{ usage_billing.pricing_relation('plans') }}

),

renamed as (

    select
        cast(plan_id as {{ dbt.type_string() }}) as plan_id,
        cast(name as {{ dbt.type_string() }}) as plan_name
    from source

)

select * from renamed
