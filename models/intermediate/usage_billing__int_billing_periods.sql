{#- Billing periods of each subscription, in its customer's time zone. Boundaries fall on the
    billing_anchor_day (31 means the last day of shorter months) every 1, 3 or 12 months, counted
    from the boundary on or before the start date (int_billing_calendar_periods); the first and
    last periods are cut at the subscription's start and end dates. A boundary is local midnight, stored as the UTC instant it
    names, so neighbouring periods share it exactly across daylight-saving changes. -#}

with calendar_periods as (

    select * from {{ ref('usage_billing', 'usage_billing__int_billing_calendar_periods') }}

),

clipped as (

    select
        *,
        case
            when start_date > calendar_start_date then start_date
            else calendar_start_date
        end as period_start_date,
        case
            when end_date < calendar_end_date then end_date
            else calendar_end_date
        end as period_end_date
    from calendar_periods

),

local_midnights as (

    select
        *,
        cast(period_start_date as {{ dbt.type_timestamp() }}) as period_start_local,
        cast(period_end_date as {{ dbt.type_timestamp() }}) as period_end_local
    from clipped
    where period_start_date < period_end_date

),

localized as (

    select
        *,
        {{ usage_billing.local_to_utc('period_start_local', 'timezone') }}
            as period_start,
        {{ usage_billing.local_to_utc('period_end_local', 'timezone') }}
            as period_end,
        {{ dbt.datediff('period_start_date', 'period_end_date', 'day') }}
            as service_days,
        {{ dbt.datediff('calendar_start_date', 'calendar_end_date', 'day') }}
            as full_period_days
    from local_midnights

),

final as (

    select
        {{ dbt.concat([
            'subscription_id',
            "'/'",
            'cast(period_start_date as ' ~ dbt.type_string() ~ ')',
        ]) }} as invoice_id,
        subscription_id,
        customer_id,
        plan_id,
        currency,
        billing_interval,
        billing_anchor_day,
        timezone,
        period_number,
        period_start,
        period_end,
        period_start_date,
        period_end_date,
        service_days,
        full_period_days,
        minimum_amount,
        case
            when as_of_at < period_end then 'live'
            when as_of_at < {{ dbt.dateadd('day', var('usage_billing_grace_days'), 'period_end') }} then 'draft'
            else 'final'
        end as status,
        as_of_at
    from localized
    where period_start <= as_of_at

)

select * from final
