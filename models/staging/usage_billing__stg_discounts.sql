{#- Discounts on customers' invoices (docs/pricing.md, "Discounts"). The table is optional:
    without it no invoice is discounted. -#}

{%- set text = dbt.type_string() -%}
{%- set money = usage_billing.type_decimal() -%}

with source as (

    select * from {{ usage_billing.optional_pricing_relation('discounts', [
        ('discount_id', text), ('customer_id', text), ('subscription_id', text),
        ('description', text), ('percent_off', money), ('amount_off', money), ('currency', text),
        ('price_id', text), ('metric', text), ('starts_on', 'date'), ('duration_periods', dbt.type_int()),
    ]) }}

),

renamed as (

    select
        cast(discount_id as {{ text }}) as discount_id,
        cast(customer_id as {{ text }}) as customer_id,
        cast(subscription_id as {{ text }}) as subscription_id,
        cast(coalesce(description, 'Discount') as {{ text }}) as description,
        cast(percent_off as {{ money }}) as percent_off,
        cast(amount_off as {{ money }}) as amount_off,
        upper(cast(currency as {{ text }})) as currency,
        cast(price_id as {{ text }}) as price_id,
        cast(metric as {{ text }}) as metric_name,
        cast(starts_on as date) as starts_on,
        cast(duration_periods as {{ dbt.type_int() }}) as duration_periods
    from source

)

select * from renamed
