{#- Every charge of every invoice with the tax code its rates are chosen by (docs/invoices.md,
    "Tax"): price lines and late-usage adjustments take their price's tax_code, the commitment
    true-up none (''). Discounts and prepaid credit are not here: int_invoice_tax_bases shares
    them among these. -#}
{{ config(materialized='ephemeral') }}

with price_lines as (

    select * from {{ ref('usage_billing', 'usage_billing__int_invoice_lines_priced') }}

),

commitment_lines as (

    select * from {{ ref('usage_billing', 'usage_billing__int_invoice_commitments') }}

),

adjustments as (

    select * from {{ ref('usage_billing', 'usage_billing__int_late_usage_adjustments') }}

),

prices as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_prices') }}

),

charges as (

    select
        invoice_id,
        price_id,
        metric_name,
        amount
    from price_lines
    union all
    select
        invoice_id,
        cast(null as {{ dbt.type_string() }}) as price_id,
        cast(null as {{ dbt.type_string() }}) as metric_name,
        amount
    from commitment_lines
    union all
    select
        target_invoice_id as invoice_id,
        price_id,
        metric_name,
        amount
    from adjustments
    where target_invoice_id is not null

),

final as (

    select
        charges.invoice_id,
        charges.price_id,
        charges.metric_name,
        charges.amount,
        coalesce(prices.tax_code, '') as tax_code
    from charges
    left join prices
        on charges.price_id = prices.price_id

)

select * from final
