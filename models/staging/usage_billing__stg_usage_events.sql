with source as (

    select * from {{ source('usage_billing', 'usage_events') }}

),

staged as (

    {{ usage_billing.staged_usage_events('source') }}

)

select * from staged
