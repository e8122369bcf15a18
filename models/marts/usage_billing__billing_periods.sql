with billing_periods as (

    select * from {{ ref('usage_billing', 'usage_billing__int_billing_periods') }}

),

final as (

    select
        invoice_id,
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
        status,
        as_of_at
    from billing_periods

)

select * from final
