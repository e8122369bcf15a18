{#- A view: the rejected rows are a filter of int_usage_events_validated, read now and then;
    as a table every build, incremental ones too, would scan all events to copy them. -#}
{{ config(materialized='view') }}

with validated as (

    select * from {{ ref('usage_billing', 'usage_billing__int_usage_events_validated') }}

),

final as (

    select
        event_id,
        customer_alias,
        event_type,
        event_timestamp_text as event_timestamp,
        event_properties,
        loaded_at,
        rejection_reason
    from validated
    where rejection_reason is not null

)

select * from final
