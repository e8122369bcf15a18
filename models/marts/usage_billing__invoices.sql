{#- Every invoice: one per billing period, and one per threshold invoice issued early in a
    period (invoice_kind `threshold`, docs/usage-controls.md), which has its period's dates
    and is final from the build issuing it. Totals and content_hash come from the lines. -#}

with periods as (

    select * from {{ ref('usage_billing', 'usage_billing__int_billing_periods') }}

),

threshold_invoices as (

    select distinct
        invoice_id,
        threshold_of_invoice_id
    from {{ ref('usage_billing', 'usage_billing__threshold_invoice_lines') }}

),

billing_periods as (

    select
        invoice_id,
        subscription_id,
        customer_id,
        plan_id,
        period_start,
        period_end,
        period_start_date,
        period_end_date,
        currency,
        status,
        'period' as invoice_kind,
        cast(null as {{ dbt.type_string() }}) as threshold_of_invoice_id
    from periods
    union all
    select
        threshold_invoices.invoice_id,
        periods.subscription_id,
        periods.customer_id,
        periods.plan_id,
        periods.period_start,
        periods.period_end,
        periods.period_start_date,
        periods.period_end_date,
        periods.currency,
        'final' as status,
        'threshold' as invoice_kind,
        threshold_invoices.threshold_of_invoice_id
    from threshold_invoices
    inner join periods
        on threshold_invoices.threshold_of_invoice_id = periods.invoice_id

),

invoice_lines as (

    select * from {{ ref('usage_billing', 'usage_billing__invoice_lines') }}

),

customers as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_customers') }}

),

plans as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_plans') }}

),

closures as (

    select * from {{ ref('usage_billing', 'usage_billing__int_invoice_closures') }}

),

invoice_numbers as (

    select * from {{ ref('usage_billing', 'usage_billing__invoice_numbers') }}

),

line_totals as (

    select
        invoice_id,
        sum(case when line_type in ('credit', 'tax', 'tax_included') then 0 else amount end) as subtotal,
        0 - sum(case when line_type = 'credit' then amount else 0 end) as credits_applied,
        sum(case when line_type = 'tax' then amount else 0 end) as tax_amount,
        sum(case when line_type = 'tax_included' then tax_amount else 0 end) as tax_included,
        sum(amount) as total,
        count(*) as line_count,
        sum(case when line_type in ('tax', 'tax_included') then 1 else 0 end) as tax_lines,
        -- Any change to a line (late usage, a corrected price) changes the hash. A child's line
        -- (parent accounts) adds its child; the others add nothing, so their hashes stay as they were.
        {{ dbt.hash(usage_billing.listagg_ordered(
            dbt.concat([
                'cast(line_number as ' ~ dbt.type_string() ~ ')', "'|'",
                'coalesce(price_id, credit_grant_id, tax_rate_id, line_type)', "'|'",
                "coalesce(cast(tier as " ~ dbt.type_string() ~ "), '')", "'|'",
                usage_billing.canonical_decimal_text('quantity'), "'|'",
                usage_billing.canonical_decimal_text('unit_price'), "'|'",
                usage_billing.canonical_decimal_text('amount'),
                "coalesce(" ~ dbt.concat(["'|'", 'child_customer_id']) ~ ", '')",
            ]),
            "';'",
            'line_number',
        )) }} as content_hash
    from invoice_lines
    group by invoice_id

),

final as (

    select
        billing_periods.invoice_id,
        billing_periods.subscription_id,
        billing_periods.customer_id,
        customers.customer_name,
        billing_periods.plan_id,
        plans.plan_name,
        billing_periods.period_start,
        billing_periods.period_end,
        billing_periods.period_start_date,
        billing_periods.period_end_date,
        billing_periods.currency,
        cast(coalesce(line_totals.subtotal, 0) as {{ usage_billing.type_decimal() }}) as subtotal,
        cast(coalesce(line_totals.credits_applied, 0) as {{ usage_billing.type_decimal() }}) as credits_applied,
        cast(coalesce(line_totals.tax_amount, 0) as {{ usage_billing.type_decimal() }}) as tax_amount,
        cast(coalesce(line_totals.tax_included, 0) as {{ usage_billing.type_decimal() }}) as tax_included,
        cast(coalesce(line_totals.total, 0) as {{ usage_billing.type_decimal() }}) as total,
        -- Why the invoice has no tax, or that it has (docs/invoices.md, "Tax").
        case
            when customers.tax_exempt = 'reverse' then 'reverse_charge'
            when customers.tax_exempt = 'exempt' then 'exempt'
            when line_totals.tax_lines > 0 then 'taxed'
            else 'untaxed'
        end as tax_status,
        billing_periods.status,
        billing_periods.invoice_kind,
        billing_periods.threshold_of_invoice_id,
        coalesce(line_totals.line_count, 0) as line_count,
        coalesce(line_totals.content_hash, {{ dbt.hash("''") }}) as content_hash,
        -- A threshold invoice is never closed: it is frozen from its issue on.
        coalesce(closures.is_closed, false) as is_closed,
        -- Numbers and terms (docs/invoices.md): final invoices only; a number is not content,
        -- so content_hash ignores it. Issuer and terms are as numbered, else the customer's.
        coalesce(invoice_numbers.issuer_id, customers.issuer_id) as issuer_id,
        invoice_numbers.invoice_number,
        invoice_numbers.issue_date,
        invoice_numbers.due_date,
        coalesce(invoice_numbers.payment_terms_days, customers.payment_terms_days) as payment_terms_days,
        -- What the customer is asked to pay: the total, prepaid credit taken off, tax added.
        cast(coalesce(line_totals.total, 0) as {{ usage_billing.type_decimal() }}) as amount_due,
        customers.billing_email,
        customers.address_line1,
        customers.address_line2,
        customers.address_city,
        customers.address_postal_code,
        customers.address_state,
        customers.address_country,
        customers.tax_id
    from billing_periods
    left join line_totals
        on billing_periods.invoice_id = line_totals.invoice_id
    left join customers
        on billing_periods.customer_id = customers.customer_id
    left join plans
        on billing_periods.plan_id = plans.plan_id
    left join closures
        on billing_periods.invoice_id = closures.invoice_id
    left join invoice_numbers
        on billing_periods.invoice_id = invoice_numbers.invoice_id

)

select * from final
