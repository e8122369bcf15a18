{%- set loaded_at_column = var('usage_billing_column_loaded_at') -%}

with source as (

    select * from {{ source('usage_billing', 'usage_events') }}

),

renamed as (

    select
        cast({{ var('usage_billing_column_event_id') }} as {{ dbt.type_string() }}) as event_id,
        cast({{ var('usage_billing_column_customer_alias') }} as {{ dbt.type_string() }}) as customer_alias,
        cast({{ var('usage_billing_column_event_type') }} as {{ dbt.type_string() }}) as event_type,
        cast({{ var('usage_billing_column_event_timestamp') }} as {{ dbt.type_string() }}) as event_timestamp_text,
        {{ usage_billing.parse_timestamp_utc(
            'cast(' ~ var('usage_billing_column_event_timestamp') ~ ' as ' ~ dbt.type_string() ~ ')'
        ) }} as event_at,
        cast({{ var('usage_billing_column_event_properties') }} as {{ dbt.type_string() }}) as event_properties,
        {% if loaded_at_column -%}
            cast({{ loaded_at_column }} as {{ dbt.type_timestamp() }}) as loaded_at
        {%- else -%}
            cast(null as {{ dbt.type_timestamp() }}) as loaded_at
        {%- endif %}
    from source

),

checked as (

    select
        *,
        event_properties is null
        or {{ usage_billing.is_json_object('event_properties') }} as has_valid_properties
    from renamed

),

values_checked as (

    select
        *,
        -- Only well-formed properties are read; a malformed object is rejected on its own.
        case
            when has_valid_properties then {{ usage_billing.metric_values_are_valid() }}
            else true
        end as has_valid_metric_values
    from checked

),

ranked as (

    select
        *,
        -- A repeat of an event_id supersedes the earlier row: the last loaded wins (or the first,
        -- by the var usage_billing_dedup_policy). Only rows that could be billed compete, so a
        -- malformed resend never hides a good event.
        case
            when
                event_id is not null
                and customer_alias is not null
                and event_at is not null
                and has_valid_properties
                and has_valid_metric_values
                then row_number() over (
                    partition by
                        event_id,
                        event_id is not null
                        and customer_alias is not null
                        and event_at is not null
                        and has_valid_properties
                        and has_valid_metric_values
                    order by
                        loaded_at {{ usage_billing.dedup_order() }} nulls last,
                        event_at {{ usage_billing.dedup_order() }},
                        event_properties desc nulls last,
                        customer_alias desc,
                        event_type desc nulls last
                )
        end as event_id_rank
    from values_checked

)

select * from ranked
