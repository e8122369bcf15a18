with events as (

    select * from {{ ref('stg_usage_events') }}

),

customer_aliases as (

    select * from {{ ref('stg_customer_aliases') }}

),

matched as (

    select
        events.*,
        customer_aliases.customer_id
    from events
    left join customer_aliases
        on events.customer_alias = customer_aliases.customer_alias

),

final as (

    select
        event_id,
        customer_alias,
        customer_id,
        event_type,
        event_timestamp_text,
        event_at,
        event_properties,
        loaded_at,
        -- The first failing check names the reason; null means the event is billed.
        case
            when event_id is null then 'missing_event_id'
            when customer_alias is null then 'missing_customer_alias'
            when event_timestamp_text is null then 'missing_timestamp'
            when event_at is null then 'bad_timestamp'
            when not has_valid_properties then 'bad_properties'
            when not has_valid_metric_values then 'bad_value'
            when event_id_rank > 1 then 'duplicate'
            when customer_id is null then 'unknown_customer'
        end as rejection_reason
    from matched

)

select * from final
