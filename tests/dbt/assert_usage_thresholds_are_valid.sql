-- A threshold that would watch nothing or the wrong thing, with the reason: exactly one level
-- (quantity, amount, or percentage with percent_of), above 0, a percentage at most 100 and of
-- included_units, minimum_commitment or credit_balance; a quantity (or included units) needs a
-- count or sum metric of events; a known customer and metric; threshold_id unique.
with thresholds as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_usage_thresholds') }}

),

customers as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_customers') }}

),

metrics as (

    select * from {{ ref('usage_billing', 'usage_billing__int_metric_definitions') }}

),

problems as (

    select
        threshold_id,
        'exactly one level: quantity, amount, or percentage with percent_of' as problem
    from thresholds
    where
        (case when quantity is null then 0 else 1 end)
        + (case when amount is null then 0 else 1 end)
        + (case when percentage is null then 0 else 1 end) != 1
        or (percentage is null) != (percent_of is null)

    union all

    select
        threshold_id,
        'the level must be above 0' as problem
    from thresholds
    where quantity <= 0 or amount <= 0

    union all

    select
        threshold_id,
        'percentage must be above 0 and at most 100' as problem
    from thresholds
    where percentage <= 0 or percentage > 100

    union all

    select
        threshold_id,
        'percent_of must be included_units, minimum_commitment or credit_balance' as problem
    from thresholds
    where percent_of not in ('included_units', 'minimum_commitment', 'credit_balance')

    union all

    select
        threshold_id,
        'a quantity or included_units level needs a count or sum metric of events' as problem
    from thresholds
    where
        (quantity is not null or percent_of = 'included_units')
        and (
            metric_name is null
            or not {{ usage_billing.metric_name_in(usage_billing.additive_metrics(), 'metric_name') }}
        )

    union all

    select
        thresholds.threshold_id,
        'unknown customer_id' as problem
    from thresholds
    left join customers
        on thresholds.customer_id = customers.customer_id
    where thresholds.customer_id is not null and customers.customer_id is null

    union all

    select
        thresholds.threshold_id,
        'metric is not declared in usage_billing_metrics' as problem
    from thresholds
    left join metrics
        on thresholds.metric_name = metrics.metric_name
    where thresholds.metric_name is not null and metrics.metric_name is null

    union all

    select
        threshold_id,
        'threshold_id must be unique' as problem
    from thresholds
    group by threshold_id
    having count(*) > 1

)

select * from problems
