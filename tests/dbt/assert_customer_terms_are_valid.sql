-- Customer columns the invoice numbers and terms rely on (docs/invoices.md): an issuer_id that
-- var usage_billing_issuers does not define (such a customer's invoices get no number), and
-- negative payment terms.
with customers as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_customers') }}

),

issuers as (

    select * from {{ ref('usage_billing', 'usage_billing__issuers') }}

),

problems as (

    select
        customers.customer_id,
        {{ dbt.concat(["'customer names unknown issuer_id '", 'customers.issuer_id']) }} as problem
    from customers
    left join issuers
        on customers.issuer_id = issuers.issuer_id
    where issuers.issuer_id is null

    union all

    select
        customer_id,
        'payment_terms_days is negative' as problem
    from customers
    where payment_terms_days < 0

)

select * from problems
