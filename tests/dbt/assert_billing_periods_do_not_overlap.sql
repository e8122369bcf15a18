-- A subscription's billing periods never overlap, so no usage is billed in two periods.
select
    earlier.subscription_id,
    earlier.period_start as earlier_start,
    earlier.period_end as earlier_end,
    later.period_start as later_start
from {{ ref('usage_billing', 'usage_billing__billing_periods') }} as earlier
inner join {{ ref('usage_billing', 'usage_billing__billing_periods') }} as later
    on
        earlier.subscription_id = later.subscription_id
        and earlier.period_start < later.period_start
        and earlier.period_end > later.period_start
