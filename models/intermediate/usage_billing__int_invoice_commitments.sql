{#- A subscription's minimum commitment per period: when the invoice's fees and usage (every
    price line, after price minimums and caps) fall short of it, a "Minimum commitment true-up"
    line makes up the difference. Settled when the period ends, so live invoices show none. -#}

with billing_periods as (

    select * from {{ ref('usage_billing', 'usage_billing__int_billing_periods') }}

),

lines as (

    select * from {{ ref('usage_billing', 'usage_billing__int_invoice_lines_priced') }}

),

currencies as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_currencies') }}

),

invoice_totals as (

    select
        invoice_id,
        sum(amount) as price_lines_amount
    from lines
    group by invoice_id

),

commitments as (

    select
        billing_periods.invoice_id,
        billing_periods.status,
        {{ usage_billing.round_money('billing_periods.minimum_amount', 'currencies.minor_units') }} as minimum_amount,
        coalesce(invoice_totals.price_lines_amount, 0) as price_lines_amount
    from billing_periods
    left join invoice_totals
        on billing_periods.invoice_id = invoice_totals.invoice_id
    left join currencies
        on billing_periods.currency = currencies.currency
    where billing_periods.minimum_amount is not null

),

final as (

    select
        invoice_id,
        'commitment_true_up' as line_type,
        'Minimum commitment true-up' as description,
        cast(1 as {{ usage_billing.type_decimal() }}) as quantity,
        cast(minimum_amount - price_lines_amount as {{ usage_billing.type_decimal() }}) as unit_price,
        cast(minimum_amount - price_lines_amount as {{ usage_billing.type_decimal() }}) as amount
    from commitments
    where price_lines_amount < minimum_amount and status <> 'live'

)

select * from final
