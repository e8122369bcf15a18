{#- Each threshold in each billing period it watches, with the level it stands for there: a
    quantity of the metric (absolute, or a percentage of the metric's included units) or an
    amount of money (absolute, or a percentage of the subscription's minimum commitment or of
    the prepaid credit granted the customer for the period). A period where the base is missing
    (no free_units, no minimum, no credit) has no level, so nothing to cross. -#}
{%- set money = usage_billing.type_decimal() -%}

with thresholds as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_usage_thresholds') }}

),

billing_periods as (

    select * from {{ ref('usage_billing', 'usage_billing__int_billing_periods') }}

),

prices_by_billing_period as (

    select * from {{ ref('usage_billing', 'usage_billing__int_prices_by_billing_period') }}

),

credit_grants as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_credit_grants') }}

),

priced_metrics as (

    -- The metrics each period prices, with the units it includes free (over all their prices).
    select
        invoice_id,
        metric_name,
        sum(free_units) as included_units
    from prices_by_billing_period
    where metric_name is not null
    group by invoice_id, metric_name

),

credit_granted as (

    -- Credit the customer holds for the period: granted before its end, not expired by its start.
    select
        billing_periods.invoice_id,
        sum(credit_grants.amount) as credit_amount
    from billing_periods
    inner join credit_grants
        on
            billing_periods.customer_id = credit_grants.customer_id
            and billing_periods.currency = credit_grants.currency
            and billing_periods.period_end > credit_grants.granted_at
            and (credit_grants.expires_at is null or billing_periods.period_start < credit_grants.expires_at)
    group by billing_periods.invoice_id

),

watched as (

    select
        thresholds.threshold_id,
        thresholds.description,
        thresholds.metric_name,
        thresholds.quantity,
        thresholds.amount,
        thresholds.percentage,
        thresholds.percent_of,
        billing_periods.invoice_id,
        billing_periods.subscription_id,
        billing_periods.customer_id,
        billing_periods.period_start,
        billing_periods.period_end,
        billing_periods.currency,
        billing_periods.status as invoice_status,
        case
            when thresholds.percent_of = 'included_units' then priced_metrics.included_units
            when thresholds.percent_of = 'minimum_commitment' then billing_periods.minimum_amount
            when thresholds.percent_of = 'credit_balance' then credit_granted.credit_amount
        end as percent_base
    from thresholds
    inner join billing_periods
        on thresholds.customer_id is null or thresholds.customer_id = billing_periods.customer_id
    left join priced_metrics
        on
            billing_periods.invoice_id = priced_metrics.invoice_id
            and thresholds.metric_name = priced_metrics.metric_name
    left join credit_granted
        on billing_periods.invoice_id = credit_granted.invoice_id
    -- A metric's threshold watches only the periods that price the metric.
    where thresholds.metric_name is null or priced_metrics.metric_name is not null

),

final as (

    select
        threshold_id,
        description,
        metric_name,
        invoice_id,
        subscription_id,
        customer_id,
        period_start,
        period_end,
        currency,
        invoice_status,
        percentage,
        percent_of,
        case
            when quantity is not null or percent_of = 'included_units' then 'quantity'
            else 'amount'
        end as level_kind,
        cast(case
            when quantity is not null then quantity
            when amount is not null then amount
            else {{ usage_billing.divide_exact(usage_billing.multiply_exact('percentage', 'percent_base'), 100, 10) }}
        end as {{ money }}) as level_value
    from watched

)

select * from final
where level_value > 0
