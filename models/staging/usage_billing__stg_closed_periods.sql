with source as (

    select * from {{ usage_billing.pricing_relation('closed_periods') }}

),

renamed as (

    select
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(closed_through as date) as closed_through,
        cast(closed_at as {{ dbt.type_timestamp() }}) as closed_at,
        cast(note as {{ dbt.type_string() }}) as note
    from source

)

select * from renamed
