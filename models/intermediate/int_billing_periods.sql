{#- Billing periods of each subscription, in its customer's time zone. Boundaries fall on the
    billing_anchor_day (31 means the last day of shorter months) every 1, 3 or 12 months, counted
    from the boundary on or before the start date; the first and last periods are cut at the
    subscription's start and end dates. A boundary is local midnight, stored as the UTC instant it
    names, so neighbouring periods share it exactly across daylight-saving changes. -#}

with subscriptions as (

    select * from {{ ref('stg_subscriptions') }}

),

customers as (

    select * from {{ ref('stg_customers') }}

),

period_numbers as (

    -- Up to 100 years of monthly periods per subscription; the join below keeps those started.
    {{ dbt.generate_series(1200) }}

),

clock as (

    select {{ usage_billing.as_of_timestamp() }} as as_of_at

),

spans as (

    select
        subscriptions.subscription_id,
        subscriptions.customer_id,
        subscriptions.plan_id,
        subscriptions.currency,
        subscriptions.billing_interval,
        subscriptions.billing_anchor_day,
        subscriptions.minimum_amount,
        subscriptions.start_date,
        subscriptions.end_date,
        coalesce(customers.timezone, 'UTC') as timezone,
        clock.as_of_at,
        cast({{ dbt.date_trunc('month', 'subscriptions.start_date') }} as date) as start_month,
        cast({{ dbt.dateadd('month', 1, dbt.date_trunc('month', 'subscriptions.start_date')) }} as date)
            as next_month,
        case subscriptions.billing_interval
            when 'month' then 1
            when 'quarter' then 3
            when 'year' then 12
        end as months_per_period
    from subscriptions
    left join customers
        on subscriptions.customer_id = customers.customer_id
    cross join clock

),

start_months as (

    select
        *,
        {{ dbt.datediff('start_month', 'next_month', 'day') }}
            as start_month_days,
        {{ dbt.datediff('start_month', 'start_date', 'day') }} + 1
            as start_day
    from spans

),

start_anchors as (

    select
        *,
        -- The anchor day inside the start month: day 31 is the 30th of April, the 29th of a leap February.
        case
            when billing_anchor_day < start_month_days then billing_anchor_day
            else start_month_days
        end as start_month_anchor_day
    from start_months

),

first_boundaries as (

    select
        *,
        -- Periods count from the anchor on or before the start date: its month or the month before.
        case
            when start_month_anchor_day <= start_day then start_month
            else cast({{ dbt.dateadd('month', -1, 'start_month') }} as date)
        end as base_month
    from start_anchors

),

calendar_months as (

    select
        first_boundaries.*,
        period_numbers.generated_number as period_number,
        cast({{ dbt.dateadd(
            'month',
            '(period_numbers.generated_number - 1) * first_boundaries.months_per_period',
            'first_boundaries.base_month',
        ) }} as date) as start_boundary_month,
        cast({{ dbt.dateadd(
            'month',
            '(period_numbers.generated_number - 1) * first_boundaries.months_per_period + 1',
            'first_boundaries.base_month',
        ) }} as date) as after_start_boundary_month,
        cast({{ dbt.dateadd(
            'month',
            'period_numbers.generated_number * first_boundaries.months_per_period',
            'first_boundaries.base_month',
        ) }} as date) as end_boundary_month,
        cast({{ dbt.dateadd(
            'month',
            'period_numbers.generated_number * first_boundaries.months_per_period + 1',
            'first_boundaries.base_month',
        ) }} as date) as after_end_boundary_month
    from first_boundaries
    inner join period_numbers
        on
            -- One period of slack: the clock is UTC, the calendar local.
            (period_numbers.generated_number - 2) * first_boundaries.months_per_period
            <= {{ dbt.datediff('first_boundaries.base_month', 'first_boundaries.as_of_at', 'month') }}

),

boundary_months as (

    select
        *,
        {{ dbt.datediff('start_boundary_month', 'after_start_boundary_month', 'day') }}
            as start_boundary_month_days,
        {{ dbt.datediff('end_boundary_month', 'after_end_boundary_month', 'day') }}
            as end_boundary_month_days
    from calendar_months

),

calendar_periods as (

    select
        *,
        cast({{ dbt.dateadd(
            'day',
            'case when billing_anchor_day < start_boundary_month_days then billing_anchor_day'
            ~ ' else start_boundary_month_days end - 1',
            'start_boundary_month',
        ) }} as date) as calendar_start_date,
        cast({{ dbt.dateadd(
            'day',
            'case when billing_anchor_day < end_boundary_month_days then billing_anchor_day'
            ~ ' else end_boundary_month_days end - 1',
            'end_boundary_month',
        ) }} as date) as calendar_end_date
    from boundary_months

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
