{#- Whose events each billing period bills (docs/pricing.md, "Parent accounts"): its own
    customer's, and, when its subscription's child_usage says so, its customer's children's.
    child_customer_id names the child whose usage is priced apart (`separate`); it is empty for
    the customer's own usage and for children pooled into it (`pooled`), which count as the
    customer's own. -#}
with billing_periods as (

    select * from {{ ref('usage_billing', 'usage_billing__int_billing_periods') }}

),

subscriptions as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_subscriptions') }}

),

customers as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_customers') }}

),

own_usage as (

    select
        invoice_id,
        customer_id as usage_customer_id,
        cast(null as {{ dbt.type_string() }}) as child_customer_id
    from billing_periods

),

child_usage as (

    select
        billing_periods.invoice_id,
        customers.customer_id as usage_customer_id,
        case
            when subscriptions.child_usage = 'separate' then customers.customer_id
        end as child_customer_id
    from billing_periods
    inner join subscriptions
        on billing_periods.subscription_id = subscriptions.subscription_id
    inner join customers
        on billing_periods.customer_id = customers.parent_customer_id
    where
        subscriptions.child_usage in ('pooled', 'separate')
        -- A customer that names itself as parent is rejected by a data test; never bill it twice.
        and customers.customer_id <> customers.parent_customer_id

),

final as (

    select * from own_usage
    union all
    select * from child_usage

)

select * from final
