{#- The calendar periods of each subscription, before they are cut at its start and end dates
    and localized (int_billing_periods): boundaries on the billing_anchor_day (31 means the last
    day of shorter months) every 1, 3 or 12 months, counted from the boundary on or before the
    start date, as local dates; every period that may have started by the billing clock. -#}
{{ config(materialized='ephemeral') }}

with subscriptions as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_subscriptions') }}

),

customers as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_customers') }}

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

clock_months as (

    -- Months from the first boundary to the clock, once per subscription: in the join below it
    -- would be computed for each of the 1,200 numbers (on Spark a nested-loop join, where
    -- dbt's month difference is a long expression).
    select
        *,
        {{ dbt.datediff('base_month', 'as_of_at', 'month') }}
            as months_to_clock
    from first_boundaries

),

calendar_months as (

    select
        clock_months.*,
        period_numbers.generated_number as period_number,
        cast({{ dbt.dateadd(
            'month',
            '(period_numbers.generated_number - 1) * clock_months.months_per_period',
            'clock_months.base_month',
        ) }} as date) as start_boundary_month,
        cast({{ dbt.dateadd(
            'month',
            '(period_numbers.generated_number - 1) * clock_months.months_per_period + 1',
            'clock_months.base_month',
        ) }} as date) as after_start_boundary_month,
        cast({{ dbt.dateadd(
            'month',
            'period_numbers.generated_number * clock_months.months_per_period',
            'clock_months.base_month',
        ) }} as date) as end_boundary_month,
        cast({{ dbt.dateadd(
            'month',
            'period_numbers.generated_number * clock_months.months_per_period + 1',
            'clock_months.base_month',
        ) }} as date) as after_end_boundary_month
    from clock_months
    inner join period_numbers
        on
            -- One period of slack: the clock is UTC, the calendar local.
            (period_numbers.generated_number - 2) * clock_months.months_per_period
            <= clock_months.months_to_clock

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

final as (

    select
        subscription_id,
        customer_id,
        plan_id,
        currency,
        billing_interval,
        billing_anchor_day,
        minimum_amount,
        start_date,
        end_date,
        timezone,
        as_of_at,
        period_number,
        calendar_start_date,
        calendar_end_date
    from calendar_periods

)

select * from final
