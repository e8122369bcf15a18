{#- Usage and spend levels to watch (docs/usage-controls.md). The table is optional: without it
    nothing is watched and no crossing is reported. -#}

{%- set text = dbt.type_string() -%}
{%- set money = usage_billing.type_decimal() -%}

with source as (

    select * from {{ usage_billing.optional_pricing_relation('usage_thresholds', [
        ('threshold_id', text), ('customer_id', text), ('metric', text), ('description', text),
        ('quantity', money), ('amount', money), ('percentage', money), ('percent_of', text),
    ]) }}

),

renamed as (

    select
        cast(threshold_id as {{ text }}) as threshold_id,
        cast(customer_id as {{ text }}) as customer_id,
        cast(metric as {{ text }}) as metric_name,
        cast(description as {{ text }}) as description,
        cast(quantity as {{ money }}) as quantity,
        cast(amount as {{ money }}) as amount,
        cast(percentage as {{ money }}) as percentage,
        lower(cast(percent_of as {{ text }})) as percent_of
    from source

)

select * from renamed
