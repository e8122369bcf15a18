with billing_periods as (

    select * from {{ ref('int_billing_periods') }}

),

prices as (

    select * from {{ ref('stg_prices') }}

),

matched as (

    select
        billing_periods.invoice_id,
        billing_periods.subscription_id,
        billing_periods.customer_id,
        billing_periods.currency as subscription_currency,
        billing_periods.period_start,
        billing_periods.period_end,
        prices.price_id,
        prices.subscription_id as price_subscription_id,
        prices.metric_name,
        prices.pricing_model,
        prices.description,
        prices.currency as price_currency,
        prices.unit_price,
        prices.flat_amount,
        prices.package_size,
        prices.group_value
    from billing_periods
    inner join prices
        on (
            billing_periods.subscription_id = prices.subscription_id
            or (prices.subscription_id is null and billing_periods.plan_id = prices.plan_id)
        )
        and cast(prices.effective_from as {{ dbt.type_timestamp() }}) <= billing_periods.period_start
        and (
            prices.effective_to is null
            or cast(prices.effective_to as {{ dbt.type_timestamp() }}) > billing_periods.period_start
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
        price_id,
        price_subscription_id,
        metric_name,
        pricing_model,
        description,
        price_currency,
        unit_price,
        flat_amount,
        package_size,
        group_value
    from ranked
    where override_rank is null or override_rank = 1

)

select * from final
