-- A price in another currency than its subscription would bill euros as dollars.
select
    invoice_id,
    price_id,
    price_currency,
    subscription_currency
from {{ ref('usage_billing', 'usage_billing__int_prices_by_billing_period') }}
where price_currency is not null and price_currency <> subscription_currency
