-- Two subscriptions of one customer pricing the same metric (and group) in overlapping periods
-- would bill the same events twice. A plan change ends one subscription where the next starts.
with priced as (

    select distinct
        subscription_id,
        customer_id,
        metric_name,
        group_value,
        period_start,
        period_end
    from {{ ref('usage_billing', 'usage_billing__int_prices_by_billing_period') }}
    where metric_name is not null

)

select
    earlier.customer_id,
    earlier.metric_name,
    earlier.group_value,
    earlier.subscription_id,
    later.subscription_id as overlapping_subscription_id,
    later.period_start as overlap_start
from priced as earlier
inner join priced as later
    on
        earlier.customer_id = later.customer_id
        and earlier.metric_name = later.metric_name
        and coalesce(earlier.group_value, '') = coalesce(later.group_value, '')
        and earlier.subscription_id < later.subscription_id
        and earlier.period_start < later.period_end
        and earlier.period_end > later.period_start
