{#- The lines of graduated prices: a line per tier the usage reaches, each pricing the units
    that fall inside it (plus its flat amount); tier 1 is always shown, even at zero. -#}
{{ config(materialized='ephemeral') }}

with tiered_usage as (

    select * from {{ ref('usage_billing', 'usage_billing__int_price_tiers_with_usage') }}

),

graduated_units as (

    select
        *,
        case
            when up_to is not null and billable_quantity > up_to
                then {{ usage_billing.subtract_exact('up_to', 'tier_floor') }}
            when billable_quantity > tier_floor
                then {{ usage_billing.subtract_exact('billable_quantity', 'tier_floor') }}
            else 0
        end as tier_quantity
    from tiered_usage
    where
        pricing_model = 'graduated'
        and (billable_quantity > tier_floor or tier = 1)

),

final as (

    select
        {{ usage_billing.priced_line_select({
            'line_type': "'usage'",
            'line_order': 'tier',
            'description': dbt.concat(["'Tier '", 'cast(tier as ' ~ dbt.type_string() ~ ')', "' - '", 'usage_description']),
            'quantity': 'tier_quantity',
            'amount': usage_billing.round_money(usage_billing.add_exact(
                usage_billing.multiply_exact('tier_quantity', 'unit_price'), 'flat_amount', 20
            ), 'minor_units'),
            'tier': 'tier',
            'flat_amount': 'flat_amount',
            'tier_first_unit': 'tier_first_unit',
            'tier_last_unit': 'tier_last_unit',
        }) }}
    from graduated_units

)

select * from final
