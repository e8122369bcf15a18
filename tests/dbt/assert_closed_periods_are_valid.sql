-- Closed periods (docs/closing-periods.md) a table can get wrong: a row without closed_through,
-- for an unknown customer, or reaching an invoice that is not final yet (only a final invoice
-- can be closed: a draft still expects late usage, a live one is running). Such a row closes
-- nothing it should not (int_invoice_closures closes final invoices only) and fails the build.
with closed_periods as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_closed_periods') }}

),

customers as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_customers') }}

),

closures as (

    select * from {{ ref('usage_billing', 'usage_billing__int_invoice_closures') }}

),

problems as (

    select
        coalesce(customer_id, '(all customers)') as row_id,
        'closed_periods row without closed_through' as problem
    from closed_periods
    where closed_through is null

    union all

    select
        closed_periods.customer_id as row_id,
        'closed_periods row for an unknown customer' as problem
    from closed_periods
    left join customers
        on closed_periods.customer_id = customers.customer_id
    where closed_periods.customer_id is not null and customers.customer_id is null

    union all

    select
        invoice_id as row_id,
        'closed_periods reaches an invoice that is not final (only final invoices can be closed)' as problem
    from closures
    where is_covered and status <> 'final'

)

select * from problems
