{#- Tax rates (docs/invoices.md, "Tax"). The table is optional: without it nothing is taxed. -#}

{%- set text = dbt.type_string() -%}
{%- set money = usage_billing.type_decimal() -%}

with source as (

    select * from {{ usage_billing.optional_pricing_relation('tax_rates', [
        ('tax_rate_id', text), ('customer_id', text), ('tax_code', text), ('description', text),
        ('percentage', money), ('inclusive', dbt.type_boolean()), ('calculation', text),
        ('effective_from', 'date'), ('effective_to', 'date'),
    ]) }}

),

renamed as (

    select
        cast(tax_rate_id as {{ text }}) as tax_rate_id,
        cast(customer_id as {{ text }}) as customer_id,
        cast(tax_code as {{ text }}) as tax_code,
        cast(coalesce(description, 'Tax') as {{ text }}) as description,
        cast(percentage as {{ money }}) as percentage,
        cast(coalesce(inclusive, false) as {{ dbt.type_boolean() }}) as is_inclusive,
        lower(cast(coalesce(calculation, 'per_invoice') as {{ text }})) as calculation,
        cast(effective_from as date) as effective_from,
        cast(effective_to as date) as effective_to
    from source

)

select * from renamed
