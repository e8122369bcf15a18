with subscriptions as (

    select * from {{ ref('stg_subscriptions') }}

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
        cast(subscriptions.start_date as {{ dbt.type_timestamp() }}) as subscription_start_at,
        cast(subscriptions.end_date as {{ dbt.type_timestamp() }}) as subscription_end_at,
        cast({{ dbt.date_trunc('month', 'subscriptions.start_date') }} as {{ dbt.type_timestamp() }}) as anchor_at,
        clock.as_of_at,
        case subscriptions.billing_interval
            when 'month' then 1
            when 'quarter' then 3
            when 'year' then 12
        end as months_per_period
    from subscriptions
    cross join clock

),

calendar_periods as (

    select
        spans.*,
        period_numbers.generated_number as period_number,
        {{ dbt.dateadd(
            'month',
            '(period_numbers.generated_number - 1) * spans.months_per_period',
            'spans.anchor_at',
        ) }} as calendar_start_at,
        {{ dbt.dateadd(
            'month',
            'period_numbers.generated_number * spans.months_per_period',
            'spans.anchor_at',
        ) }} as calendar_end_at
    from spans
    inner join period_numbers
        on
            (period_numbers.generated_number - 1) * spans.months_per_period
            <= {{ dbt.datediff('spans.anchor_at', 'spans.as_of_at', 'month') }}

),

clipped as (

    select
        subscription_id,
        customer_id,
        plan_id,
        currency,
        billing_interval,
        period_number,
        as_of_at,
        case
            when subscription_start_at > calendar_start_at then subscription_start_at
            else calendar_start_at
        end as period_start,
        case
            when subscription_end_at < calendar_end_at then subscription_end_at
            else calendar_end_at
        end as period_end
    from calendar_periods

),

final as (

    select
        {{ dbt.concat([
            'subscription_id',
            "'/'",
            'cast(cast(period_start as date) as ' ~ dbt.type_string() ~ ')',
        ]) }} as invoice_id,
        subscription_id,
        customer_id,
        plan_id,
        currency,
        billing_interval,
        period_number,
        period_start,
        period_end,
        case
            when as_of_at < period_end then 'live'
            when as_of_at < {{ dbt.dateadd('day', var('usage_billing_grace_days'), 'period_end') }} then 'draft'
            else 'final'
        end as status,
        as_of_at
    from clipped
    where
        period_start < period_end
        and period_start <= as_of_at

)

select * from final
