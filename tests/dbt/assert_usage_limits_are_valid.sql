-- A usage limit that would gate wrongly, or gate nobody unnoticed: exactly one of customer_id
-- and plan_id, each known; a metric declared in usage_billing_metrics; a limit_quantity of 0
-- or more; one limit per customer (or plan) and metric, as the endpoint answers one per metric;
-- limit_id unique.
with usage_limits as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_usage_limits') }}

),

customers as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_customers') }}

),

plans as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_plans') }}

),

metrics as (

    select * from {{ ref('usage_billing', 'usage_billing__int_metric_definitions') }}

),

problems as (

    select
        limit_id,
        'exactly one of customer_id and plan_id' as problem
    from usage_limits
    where (customer_id is null) = (plan_id is null)

    union all

    select
        limit_id,
        'limit_quantity must be 0 or more' as problem
    from usage_limits
    where limit_quantity is null or limit_quantity < 0

    union all

    select
        usage_limits.limit_id,
        'unknown customer_id' as problem
    from usage_limits
    left join customers
        on usage_limits.customer_id = customers.customer_id
    where usage_limits.customer_id is not null and customers.customer_id is null

    union all

    select
        usage_limits.limit_id,
        'unknown plan_id' as problem
    from usage_limits
    left join plans
        on usage_limits.plan_id = plans.plan_id
    where usage_limits.plan_id is not null and plans.plan_id is null

    union all

    select
        usage_limits.limit_id,
        'metric is not declared in usage_billing_metrics' as problem
    from usage_limits
    left join metrics
        on usage_limits.metric_name = metrics.metric_name
    where metrics.metric_name is null

    union all

    select
        limit_id,
        'limit_id must be unique' as problem
    from usage_limits
    group by limit_id
    having count(*) > 1

    union all

    select
        max(limit_id) as limit_id,
        'more than one limit on this metric for the customer (or plan)' as problem
    from usage_limits
    group by customer_id, plan_id, metric_name
    having count(*) > 1

)

select * from problems
