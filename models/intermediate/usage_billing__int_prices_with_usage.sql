{#- Each price of a billing period with the usage it prices, before any pricing model turns it
    into lines: the quantity, what of it is billable after the free units, the line description
    and the currency's minor units, beside the price's columns the pricing models read. Every
    usage_billing__int_priced_lines_* model reads it. An in-advance usage price has a row per
    level it prices (usage_level start, and peak once the period has ended;
    int_in_advance_usage_levels), each with the billing_timing of the lines it makes. A price of
    a subscription that bills its children apart (parent accounts, child_usage `separate`) has a
    row per child besides its own, each priced on its own, the description naming the child
    ("API requests — Acme EU"); an in-advance usage price prices the parent's own levels only. -#}
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

customers as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_customers') }}

),

prices_with_quantities as (

    select
        prices_by_billing_period.*,
        in_advance_levels.usage_level,
        usage_by_billing_period.child_customer_id,
        -- A child's lines name the child by its customer name.
        case
            when usage_by_billing_period.child_customer_id is null then prices_by_billing_period.description
            else {{ dbt.concat([
                'prices_by_billing_period.description',
                "' — '",
                'coalesce(customers.customer_name, usage_by_billing_period.child_customer_id)',
            ]) }}
        end as line_description,
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
            -- The levels are the parent's own (int_in_advance_usage_levels): no row per child.
            and (in_advance_levels.usage_level is null or usage_by_billing_period.child_customer_id is null)
    left join customers
        on usage_by_billing_period.child_customer_id = customers.customer_id

),

priced_usage as (

    select
        prices_with_quantities.invoice_id,
        prices_with_quantities.price_id,
        prices_with_quantities.metric_name,
        prices_with_quantities.group_value,
        prices_with_quantities.pricing_model,
        prices_with_quantities.line_description as description,
        prices_with_quantities.child_customer_id,
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
                    'prices_with_quantities.line_description',
                    "' (first '",
                    usage_billing.decimal_to_text('prices_with_quantities.free_units'),
                    "' free)'",
                ]) }}
            else prices_with_quantities.line_description
        end as usage_description,
        coalesce(metric_definitions.is_money, false) as is_percentage
    from prices_with_quantities
    left join metric_definitions
        on prices_with_quantities.metric_name = metric_definitions.metric_name
    left join currencies
        on prices_with_quantities.subscription_currency = currencies.currency

)

select * from priced_usage
