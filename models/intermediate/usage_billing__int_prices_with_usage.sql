{#- Each price of a billing period with the usage it prices, before any pricing model turns it
    into lines: the quantity, what of it is billable after the free units, the line description
    and the currency's minor units, beside the price's columns the pricing models read. Every
    usage_billing__int_priced_lines_* model reads it. An in-advance usage price has a row per
    level it prices (usage_level start, and peak once the period has ended;
    int_in_advance_usage_levels), each with the billing_timing of the lines it makes. -#}
{{ config(materialized='ephemeral') }}

with prices_by_billing_period as (

    select * from {{ ref('usage_billing', 'usage_billing__int_prices_by_billing_period') }}

),

usage_by_billing_period as (

    select * from {{ ref('usage_billing', 'usage_billing__int_usage_by_billing_period') }}

),

metric_definitions as (

    select * from {{ ref('usage_billing', 'usage_billing__int_metric_definitions') }}

),

in_advance_levels as (

    select * from {{ ref('usage_billing', 'usage_billing__int_in_advance_usage_levels') }}

),

currencies as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_currencies') }}

),

prices_with_quantities as (

    select
        prices_by_billing_period.*,
        in_advance_levels.usage_level,
        -- An in-advance usage price prices a level; every other price, the period's usage.
        case
            when in_advance_levels.usage_level is not null then in_advance_levels.level_quantity
            else coalesce(usage_by_billing_period.quantity, 0)
        end as period_quantity
    from prices_by_billing_period
    left join in_advance_levels
        on
            prices_by_billing_period.invoice_id = in_advance_levels.invoice_id
            and prices_by_billing_period.price_id = in_advance_levels.price_id
    left join usage_by_billing_period
        on
            prices_by_billing_period.invoice_id = usage_by_billing_period.invoice_id
            and prices_by_billing_period.metric_name = usage_by_billing_period.metric_name
            and coalesce(prices_by_billing_period.group_value, '') = coalesce(usage_by_billing_period.group_value, '')

),

priced_usage as (

    select
        prices_with_quantities.invoice_id,
        prices_with_quantities.price_id,
        prices_with_quantities.metric_name,
        prices_with_quantities.group_value,
        prices_with_quantities.pricing_model,
        prices_with_quantities.description,
        prices_with_quantities.status,
        prices_with_quantities.usage_level,
        -- The timing of the lines the row makes: a peak is trued up in arrears.
        case
            when prices_with_quantities.usage_level = 'peak' then 'in_arrears'
            else prices_with_quantities.billing_timing
        end as billing_timing,
        prices_with_quantities.is_prorated,
        prices_with_quantities.service_days,
        prices_with_quantities.full_period_days,
        prices_with_quantities.unit_price,
        prices_with_quantities.flat_amount,
        prices_with_quantities.package_size,
        prices_with_quantities.has_tier_1_flat_at_zero,
        prices_with_quantities.minimum_amount,
        prices_with_quantities.maximum_amount,
        currencies.minor_units,
        prices_with_quantities.period_quantity as quantity,
        -- Free units come off the top: only the usage above them is priced.
        case
            when prices_with_quantities.period_quantity > coalesce(prices_with_quantities.free_units, 0)
                then {{ usage_billing.subtract_exact(
                    'prices_with_quantities.period_quantity', 'coalesce(prices_with_quantities.free_units, 0)'
                ) }}
            else 0
        end as billable_quantity,
        case
            when prices_with_quantities.free_units > 0
                then {{ dbt.concat([
                    'prices_with_quantities.description',
                    "' (first '",
                    usage_billing.decimal_to_text('prices_with_quantities.free_units'),
                    "' free)'",
                ]) }}
            else prices_with_quantities.description
        end as usage_description,
        coalesce(metric_definitions.is_money, false) as is_percentage
    from prices_with_quantities
    left join metric_definitions
        on prices_with_quantities.metric_name = metric_definitions.metric_name
    left join currencies
        on prices_with_quantities.subscription_currency = currencies.currency

)

select * from priced_usage
