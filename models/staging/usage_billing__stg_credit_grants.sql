{%- set grants_relation = usage_billing.pricing_relation('credit_grants') -%}

with source as (

    select * from {{ grants_relation }}

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
        cast(metric as {{ dbt.type_string() }}) as metric_name,
        -- Optional columns (docs/pricing.md, "Prepaid credits"): tables made before them build
        -- as before: every grant paid, nothing billed for it, no rollover. Empty type is paid.
        coalesce(
            nullif(lower({{ usage_billing.optional_column(grants_relation, 'grant_type', dbt.type_string()) }}), ''),
            'paid'
        ) as grant_type,
        {{ usage_billing.optional_column(grants_relation, 'purchase_amount', usage_billing.type_decimal()) }}
            as purchase_amount,
        {{ usage_billing.optional_column(grants_relation, 'rollover_cap', usage_billing.type_decimal()) }}
            as rollover_cap,
        {{ usage_billing.optional_column(grants_relation, 'rollover_expires_at', dbt.type_timestamp()) }}
            as rollover_expires_at
    from source

)

select * from renamed
