{#- Usage limits per billing period (docs/entitlements.md). The table is optional: without it
    no customer has a limit. -#}

{%- set text = dbt.type_string() -%}

with source as (

    select * from {{ usage_billing.optional_pricing_relation('usage_limits', [
        ('limit_id', text), ('customer_id', text), ('plan_id', text), ('metric', text),
        ('limit_quantity', usage_billing.type_decimal()), ('description', text),
    ]) }}

),

renamed as (

    select
        cast(limit_id as {{ text }}) as limit_id,
        cast(customer_id as {{ text }}) as customer_id,
        cast(plan_id as {{ text }}) as plan_id,
        cast(metric as {{ text }}) as metric_name,
        cast(limit_quantity as {{ usage_billing.type_decimal() }}) as limit_quantity,
        cast(description as {{ text }}) as description
    from source

)

select * from renamed
