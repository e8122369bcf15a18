-- Parent accounts (docs/pricing.md) go one level deep: a customer's parent must be a known
-- customer, not the customer itself, and have no parent of its own (a grandchild's usage would
-- have no one subscription to bill it). A subscription's child_usage is none, pooled or separate.
with customers as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_customers') }}

),

subscriptions as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_subscriptions') }}

),

problems as (

    select
        children.customer_id as record_id,
        'a customer cannot be its own parent' as problem
    from customers as children
    where children.parent_customer_id = children.customer_id

    union all

    select
        children.customer_id as record_id,
        'parent_customer_id names no customer' as problem
    from customers as children
    left join customers as parents
        on children.parent_customer_id = parents.customer_id
    where children.parent_customer_id is not null and parents.customer_id is null

    union all

    select
        children.customer_id as record_id,
        'the parent has a parent of its own (one level only)' as problem
    from customers as children
    inner join customers as parents
        on children.parent_customer_id = parents.customer_id
    where
        parents.parent_customer_id is not null
        and children.parent_customer_id <> children.customer_id

    union all

    select
        subscription_id as record_id,
        'child_usage must be none, pooled or separate' as problem
    from subscriptions
    where child_usage not in ('none', 'pooled', 'separate')

)

select * from problems
