{#- The lines of volume prices: every unit at the price of the tier the total reaches (plus that
    tier's flat amount); zero usage sits in tier 1. -#}
{{ config(materialized='ephemeral') }}

with tiered_usage as (

    select * from {{ ref('usage_billing', 'usage_billing__int_price_tiers_with_usage') }}

),

final as (

    select
        {{ usage_billing.priced_line_select({
            'line_type': "'usage'",
            'line_order': 'tier',
            'description': dbt.concat(["'Tier '", 'cast(tier as ' ~ dbt.type_string() ~ ')', "' - '", 'usage_description']),
            'quantity': 'billable_quantity',
            'amount': usage_billing.round_money(usage_billing.add_exact(
                usage_billing.multiply_exact('billable_quantity', 'unit_price'), 'flat_amount', 20
            ), 'minor_units'),
            'tier': 'tier',
            'flat_amount': 'flat_amount',
            'tier_first_unit': 'tier_first_unit',
            'tier_last_unit': 'tier_last_unit',
        }) }}
    from tiered_usage
    where
        pricing_model = 'volume'
        and (
            (billable_quantity > tier_floor and (up_to is null or billable_quantity <= up_to))
            or (billable_quantity = 0 and tier = 1)
        )

)

select * from final
