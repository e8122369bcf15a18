-- A price on a metric nobody declared would bill zero forever; usually a typo in the name.
select
    prices.price_id,
    prices.metric_name
from {{ ref('usage_billing', 'usage_billing__stg_prices') }} as prices
left join {{ ref('usage_billing', 'usage_billing__int_metric_definitions') }} as metrics
    on prices.metric_name = metrics.metric_name
where prices.metric_name is not null and metrics.metric_name is null
