{#- The lines of per-transaction prices: the period's fees as int_transaction_fees priced them
    event by event, on one line that counts the charged and free transactions. -#}
{{ config(materialized='ephemeral') }}

with priced_usage as (

    select * from {{ ref('usage_billing', 'usage_billing__int_prices_with_usage') }}

),

transaction_fees as (

    select * from {{ ref('usage_billing', 'usage_billing__int_transaction_fees') }}

),

transaction_usage as (

    select
        priced_usage.*,
        coalesce(transaction_fees.charged_quantity, 0) as charged_quantity,
        coalesce(transaction_fees.fee_total, 0) as fee_total,
        coalesce(transaction_fees.charged_event_count, 0) as charged_event_count,
        coalesce(transaction_fees.free_event_count, 0) as free_event_count
    from priced_usage
    left join transaction_fees
        on
            priced_usage.invoice_id = transaction_fees.invoice_id
            and priced_usage.price_id = transaction_fees.price_id
            and coalesce(priced_usage.child_customer_id, '') = coalesce(transaction_fees.child_customer_id, '')
    where priced_usage.pricing_model = 'per_transaction'

),

described as (

    select
        *,
        {{ dbt.concat([
            'description',
            "' ('",
            'cast(charged_event_count as ' ~ dbt.type_string() ~ ')',
            "case when charged_event_count = 1 then ' transaction' else ' transactions' end",
            "case when free_event_count > 0 then " ~ dbt.concat([
                "', '", 'cast(free_event_count as ' ~ dbt.type_string() ~ ')', "' free'",
            ]) ~ " else '' end",
            "')'",
        ]) }} as transaction_description,
        -- Fixed fees and the minimum and maximum adjustments: what the rate alone does not explain.
        cast({{ usage_billing.subtract_exact(
            'fee_total', usage_billing.multiply_exact('charged_quantity', 'coalesce(unit_price, 0)'), 20
        ) }} as {{ usage_billing.type_decimal() }})
            as unexplained_amount
    from transaction_usage

),

final as (

    select
        {{ usage_billing.priced_line_select({
            'line_type': "'usage'",
            'description': 'transaction_description',
            'quantity': 'charged_quantity',
            'unit_price': 'coalesce(unit_price, 0)',
            'flat_amount': 'unexplained_amount',
            'amount': usage_billing.round_money('fee_total', 'minor_units'),
        }) }}
    from described

)

select * from final
