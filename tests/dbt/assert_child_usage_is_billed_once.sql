-- A child's usage billed twice: the child's own subscription prices a metric over a period in
-- which its parent's subscription takes the child's usage of that metric (child_usage pooled
-- or separate). docs/pricing.md, "Parent accounts".
with priced as (

    select distinct
        prices_by_billing_period.subscription_id,
        prices_by_billing_period.customer_id,
        usage_customers.usage_customer_id,
        prices_by_billing_period.metric_name,
        prices_by_billing_period.period_start,
        prices_by_billing_period.period_end
    from {{ ref('usage_billing', 'usage_billing__int_prices_by_billing_period') }} as prices_by_billing_period
    inner join {{ ref('usage_billing', 'usage_billing__int_billing_period_usage_customers') }} as usage_customers
        on prices_by_billing_period.invoice_id = usage_customers.invoice_id
    where prices_by_billing_period.metric_name is not null

)

select
    own.usage_customer_id as child_customer_id,
    own.metric_name,
    own.subscription_id,
    parents.subscription_id as parent_subscription_id,
    parents.period_start as overlap_start
from priced as own
inner join priced as parents
    on
        own.usage_customer_id = parents.usage_customer_id
        and own.metric_name = parents.metric_name
        and own.period_start < parents.period_end
        and own.period_end > parents.period_start
where
    own.customer_id = own.usage_customer_id
    and parents.customer_id <> parents.usage_customer_id
