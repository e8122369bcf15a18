with source as (

    select * from {{ ref('usage_billing', 'usage_billing__currencies') }}

),

renamed as (

    select
        upper(cast(currency as {{ dbt.type_string() }})) as currency,
        cast(minor_units as {{ dbt.type_int() }}) as minor_units,
        cast(currency_name as {{ dbt.type_string() }}) as currency_name
    from source

)

select * from renamed
