{#- Each tier of a graduated or volume price with its period's usage: the tier's floor (the
    previous tier's up_to; the tier holds the quantities above it, up to its own up_to
    inclusive), its range as first and last unit, and its flat amount, which tier 1 charges at zero usage unless the price says
    otherwise. int_priced_lines_graduated and _volume read it. -#}
{{ config(materialized='ephemeral') }}

with priced_usage as (

    select * from {{ ref('usage_billing', 'usage_billing__int_prices_with_usage') }}

),

price_tiers as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_price_tiers') }}

),

tiers_with_floor as (

    select
        *,
        coalesce(lag(up_to) over (partition by price_id order by tier), 0) as tier_floor
    from price_tiers

),

tiered_usage as (

    select
        priced_usage.invoice_id,
        priced_usage.price_id,
        priced_usage.metric_name,
        priced_usage.group_value,
        priced_usage.child_customer_id,
        priced_usage.usage_description,
        priced_usage.pricing_model,
        priced_usage.billing_timing,
        priced_usage.usage_level,
        priced_usage.billable_quantity,
        priced_usage.is_percentage,
        priced_usage.minor_units,
        tiers_with_floor.tier,
        tiers_with_floor.tier_floor,
        tiers_with_floor.up_to,
        tiers_with_floor.unit_price,
        -- The tier's range as an invoice shows it: whole units from the one after the floor
        -- (1 – 500, 501 – 1,000), money from the floor itself (€0 – €500,000).
        cast(
            case
                when priced_usage.is_percentage then tiers_with_floor.tier_floor
                else tiers_with_floor.tier_floor + 1
            end as {{ usage_billing.type_decimal() }}
        ) as tier_first_unit,
        cast(tiers_with_floor.up_to as {{ usage_billing.type_decimal() }}) as tier_last_unit,
        case
            when
                tiers_with_floor.tier = 1
                and priced_usage.billable_quantity = 0
                and not priced_usage.has_tier_1_flat_at_zero
                then 0
            else tiers_with_floor.flat_amount
        end as flat_amount
    from priced_usage
    inner join tiers_with_floor
        on priced_usage.price_id = tiers_with_floor.price_id
    where priced_usage.pricing_model in ('graduated', 'volume')

)

select * from tiered_usage
