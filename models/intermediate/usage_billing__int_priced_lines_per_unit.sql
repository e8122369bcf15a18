{#- The lines of per-unit prices: every billable unit at the unit price. -#}
{{ config(materialized='ephemeral') }}

with priced_usage as (

    select * from {{ ref('usage_billing', 'usage_billing__int_prices_with_usage') }}

),

final as (

    select
        {{ usage_billing.priced_line_select({
            'line_type': "'usage'",
            'description': 'usage_description',
            'quantity': 'billable_quantity',
            'amount': usage_billing.round_money(
                usage_billing.multiply_exact('billable_quantity', 'unit_price'), 'minor_units'
            ),
        }) }}
    from priced_usage
    where pricing_model = 'per_unit'

)

select * from final
