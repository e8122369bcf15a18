{#- The tax of every invoice, one row per rate (docs/invoices.md, "Tax"). Each tax code of an
    invoice takes the rates of the most specific level that has any in force on the period's
    last day: the customer's for that code, the customer's for every code, everyone's for that
    code, everyone's for every code; several rates of one level all apply (state and county),
    each on the same base. Customers exempt or reverse-charged pay none.
    An exclusive rate adds base x rate; an inclusive one finds the tax inside the base,
    base x rate / (100% + the code's inclusive rates). Per invoice: rounded once on the
    rate's whole base; per line: each charge rounded on its own, and the code's discounts and
    credit as one more line. Half-up to minor units. A rate with nothing to tax has no row. -#}

with bases as (

    select * from {{ ref('usage_billing', 'usage_billing__int_invoice_tax_bases') }}

),

invoice_charges as (

    select * from {{ ref('usage_billing', 'usage_billing__int_invoice_charges') }}

),

tax_rates as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_tax_rates') }}

),

closures as (

    select * from {{ ref('usage_billing', 'usage_billing__int_invoice_closures') }}

),

billing_periods as (

    select * from {{ ref('usage_billing', 'usage_billing__int_billing_periods') }}

),

customers as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_customers') }}

),

currencies as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_currencies') }}

),

candidates as (

    select
        bases.invoice_id,
        bases.tax_code,
        bases.charges,
        bases.taxable_amount,
        currencies.minor_units,
        tax_rates.tax_rate_id,
        tax_rates.description,
        tax_rates.percentage,
        tax_rates.is_inclusive,
        tax_rates.calculation,
        case when tax_rates.customer_id is null then 2 else 0 end
        + case when tax_rates.tax_code is null then 1 else 0 end as specificity
    from bases
    inner join billing_periods
        on bases.invoice_id = billing_periods.invoice_id
    inner join closures
        on bases.invoice_id = closures.invoice_id
    inner join customers
        on billing_periods.customer_id = customers.customer_id
    inner join currencies
        on billing_periods.currency = currencies.currency
    inner join tax_rates
        on
            (tax_rates.customer_id is null or billing_periods.customer_id = tax_rates.customer_id)
            and (tax_rates.tax_code is null or bases.tax_code = tax_rates.tax_code)
            and (tax_rates.effective_from is null or closures.period_last_date >= tax_rates.effective_from)
            and (tax_rates.effective_to is null or closures.period_last_date < tax_rates.effective_to)
    where customers.tax_exempt = 'none'

),

ranked as (

    select
        *,
        min(specificity) over (partition by invoice_id, tax_code) as best_specificity
    from candidates

),

applied as (

    select
        *,
        -- What 100% of the net price becomes with the code's inclusive rates added.
        100 + sum(case when is_inclusive then percentage else 0 end) over (
            partition by invoice_id, tax_code
        ) as gross_percentage
    from ranked
    where specificity = best_specificity

),

{%- set tax_of = usage_billing.tax_of %}

line_taxes as (

    -- Per line: every charge of the code rounded on its own.
    select
        applied.invoice_id,
        applied.tax_code,
        applied.tax_rate_id,
        sum({{ tax_of('invoice_charges.amount', 'applied') }}) as tax_amount
    from applied
    inner join invoice_charges
        on applied.invoice_id = invoice_charges.invoice_id and applied.tax_code = invoice_charges.tax_code
    where applied.calculation = 'per_line'
    group by applied.invoice_id, applied.tax_code, applied.tax_rate_id

),

by_code as (

    select
        applied.*,
        case
            when applied.calculation = 'per_line'
                then
                    coalesce(line_taxes.tax_amount, 0)
                    + {{ tax_of('applied.taxable_amount - applied.charges', 'applied') }}
        end as line_tax_amount
    from applied
    left join line_taxes
        on
            applied.invoice_id = line_taxes.invoice_id
            and applied.tax_code = line_taxes.tax_code
            and applied.tax_rate_id = line_taxes.tax_rate_id

),

final as (

    -- One row per rate: a rate applying to several codes is rounded once on their bases.
    select
        invoice_id,
        tax_rate_id,
        description,
        percentage,
        is_inclusive,
        calculation,
        gross_percentage,
        cast(sum(taxable_amount) as {{ usage_billing.type_decimal() }}) as taxable_amount,
        cast(
            case
                when calculation = 'per_line' then sum(line_tax_amount)
                else {{ tax_of('sum(taxable_amount)', '') }}
            end as {{ usage_billing.type_decimal() }}
        ) as tax_amount
    from by_code
    group by
        invoice_id,
        tax_rate_id,
        description,
        percentage,
        is_inclusive,
        calculation,
        gross_percentage,
        minor_units
    -- Nothing to tax, no line (a draft with no usage yet).
    having sum(taxable_amount) <> 0

)

select * from final
