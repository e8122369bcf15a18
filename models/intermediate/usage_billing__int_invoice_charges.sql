{#- Every charge of every invoice, before discounts, credit and tax: price lines, commitment
    true-ups, late-usage adjustments and credit purchases billed on it, each with its price,
    metric and the tax code its rates are chosen by (its price's tax_code, '' for none). What
    discounts take a share of (int_invoice_discounts, without late-usage adjustments or credit
    purchases), what prepaid credit pays (int_credit_owed, never a credit purchase) and what is
    taxed (int_invoice_tax_bases, int_invoice_taxes). -#}
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

credit_purchases as (

    select * from {{ ref('usage_billing', 'usage_billing__int_credit_purchases') }}

),

prices as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_prices') }}

),

charges as (

    select
        invoice_id,
        'price' as charge_type,
        price_id,
        metric_name,
        amount
    from price_lines
    union all
    select
        invoice_id,
        'commitment_true_up' as charge_type,
        cast(null as {{ dbt.type_string() }}) as price_id,
        cast(null as {{ dbt.type_string() }}) as metric_name,
        amount
    from commitment_lines
    union all
    select
        target_invoice_id as invoice_id,
        'late_usage_adjustment' as charge_type,
        price_id,
        metric_name,
        amount
    from adjustments
    where target_invoice_id is not null
    union all
    select
        invoice_id,
        'credit_purchase' as charge_type,
        cast(null as {{ dbt.type_string() }}) as price_id,
        cast(null as {{ dbt.type_string() }}) as metric_name,
        purchase_amount as amount
    from credit_purchases
    where invoice_id is not null

),

final as (

    select
        charges.invoice_id,
        charges.charge_type,
        charges.price_id,
        charges.metric_name,
        charges.amount,
        coalesce(prices.tax_code, '') as tax_code
    from charges
    left join prices
        on charges.price_id = prices.price_id

)

select * from final
