-- A tax rate or exemption that would tax wrongly, or not at all, unnoticed: a percentage from 0
-- to 100, a known calculation and customer, dates in order; a customer's tax_exempt one of
-- none, exempt and reverse; and no invoice taxed by inclusive and exclusive rates at once (its
-- prices would both hold their tax and not).
with tax_rates as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_tax_rates') }}

),

customers as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_customers') }}

),

taxes as (

    select * from {{ ref('usage_billing', 'usage_billing__int_invoice_taxes') }}

),

problems as (

    select
        tax_rate_id as problem_key,
        'percentage must be from 0 to 100' as problem
    from tax_rates
    where percentage is null or percentage < 0 or percentage > 100

    union all

    select
        tax_rate_id as problem_key,
        'calculation must be per_invoice or per_line' as problem
    from tax_rates
    where calculation not in ('per_invoice', 'per_line')

    union all

    select
        tax_rates.tax_rate_id as problem_key,
        'unknown customer_id' as problem
    from tax_rates
    left join customers
        on tax_rates.customer_id = customers.customer_id
    where tax_rates.customer_id is not null and customers.customer_id is null

    union all

    select
        tax_rate_id as problem_key,
        'effective_to must be after effective_from' as problem
    from tax_rates
    where effective_to <= effective_from

    union all

    select
        customer_id as problem_key,
        'tax_exempt must be none, exempt or reverse' as problem
    from customers
    where tax_exempt not in ('none', 'exempt', 'reverse')

    union all

    select
        invoice_id as problem_key,
        'an invoice is taxed by inclusive and exclusive rates at once' as problem
    from taxes
    group by invoice_id
    having min(case when is_inclusive then 1 else 0 end) <> max(case when is_inclusive then 1 else 0 end)

)

select * from problems
