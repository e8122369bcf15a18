with billing_periods as (

    select * from {{ ref('usage_billing', 'usage_billing__int_billing_periods') }}

),

prices as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_prices') }}

),

matched as (

    select
        billing_periods.invoice_id,
        billing_periods.subscription_id,
        billing_periods.customer_id,
        billing_periods.currency as subscription_currency,
        billing_periods.period_start,
        billing_periods.period_end,
        billing_periods.service_days,
        billing_periods.full_period_days,
        billing_periods.status,
        prices.price_id,
        prices.subscription_id as price_subscription_id,
        prices.metric_name,
        prices.pricing_model,
        prices.description,
        prices.currency as price_currency,
        prices.unit_price,
        prices.flat_amount,
        prices.package_size,
        prices.free_units,
        prices.free_events,
        prices.free_allowance_rule,
        prices.transaction_fixed_fee,
        prices.transaction_minimum,
        prices.transaction_maximum,
        prices.minimum_amount,
        prices.maximum_amount,
        prices.billing_timing,
        prices.is_prorated,
        prices.has_tier_1_flat_at_zero,
        prices.group_value
    from billing_periods
    inner join prices
        on (
            billing_periods.subscription_id = prices.subscription_id
            or (prices.subscription_id is null and billing_periods.plan_id = prices.plan_id)
        )
        and (
            -- A dated one-time fee: the period whose local dates hold its date (the data test
            -- assert_price_fields_match_pricing_model keeps the date inside its version).
            (
                prices.charge_date is not null
                and billing_periods.period_start_date <= prices.charge_date
                and billing_periods.period_end_date > prices.charge_date
            )
            or (
                prices.charge_date is null
                -- Any other price: the versions in force on the period's first local day.
                and billing_periods.period_start_date >= prices.effective_from
                and (prices.effective_to is null or billing_periods.period_start_date < prices.effective_to)
                -- An undated one-time fee: the subscription's first period only.
                and (prices.cadence <> 'one_time' or billing_periods.period_number = 1)
            )
        )

),

ranked as (

    select
        *,
        -- A subscription's own price of a metric replaces its plan's price of that metric.
        case
            when metric_name is not null
                then dense_rank() over (
                    partition by invoice_id, metric_name, coalesce(group_value, '')
                    order by case when price_subscription_id is null then 1 else 0 end
                )
        end as override_rank
    from matched

),

final as (

    select
        invoice_id,
        subscription_id,
        customer_id,
        subscription_currency,
        period_start,
        period_end,
        service_days,
        full_period_days,
        status,
        price_id,
        price_subscription_id,
        metric_name,
        pricing_model,
        description,
        price_currency,
        unit_price,
        flat_amount,
        package_size,
        free_units,
        free_events,
        free_allowance_rule,
        transaction_fixed_fee,
        transaction_minimum,
        transaction_maximum,
        minimum_amount,
        maximum_amount,
        billing_timing,
        is_prorated,
        has_tier_1_flat_at_zero,
        group_value
    from ranked
    where override_rank is null or override_rank = 1

)

select * from final
