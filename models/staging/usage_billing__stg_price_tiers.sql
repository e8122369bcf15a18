with source as (

    select * from {{ usage_billing.pricing_relation('price_tiers') }}

),

renamed as (

    select
        cast(price_id as {{ dbt.type_string() }}) as price_id,
        cast(tier as {{ dbt.type_int() }}) as tier,
        cast(up_to as {{ usage_billing.type_decimal() }}) as up_to,
        cast(coalesce(unit_price, 0) as {{ usage_billing.type_decimal() }}) as unit_price,
        cast(coalesce(flat_amount, 0) as {{ usage_billing.type_decimal() }}) as flat_amount
    from source

)

select * from renamed
