{#- Each price of a billing period with the usage it prices, before any pricing model turns it
    into lines: the quantity, what of it is billable after the free units, the line description
    and the currency's minor units, beside the price's columns the pricing models read. Every
    usage_billing__int_priced_lines_* model reads it. A price of a subscription that bills its
    children apart (child_usage `separate`) has a row per child besides its own, each priced on
    its own, the description naming the child ("API requests — Acme EU"). -#}
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

currencies as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_currencies') }}

),

customers as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_customers') }}

),

usage_described as (

    -- The price's description on the child's lines names the child by its customer name.
    select
        prices_by_billing_period.invoice_id,
        prices_by_billing_period.price_id,
        usage_by_billing_period.child_customer_id,
        usage_by_billing_period.quantity,
        case
            when usage_by_billing_period.child_customer_id is null then prices_by_billing_period.description
            else {{ dbt.concat([
                'prices_by_billing_period.description',
                "' — '",
                'coalesce(customers.customer_name, usage_by_billing_period.child_customer_id)',
            ]) }}
        end as description
    from prices_by_billing_period
    left join usage_by_billing_period
        on
            prices_by_billing_period.invoice_id = usage_by_billing_period.invoice_id
            and prices_by_billing_period.metric_name = usage_by_billing_period.metric_name
            and coalesce(prices_by_billing_period.group_value, '') = coalesce(usage_by_billing_period.group_value, '')
    left join customers
        on usage_by_billing_period.child_customer_id = customers.customer_id

),

priced_usage as (

    select
        prices_by_billing_period.invoice_id,
        prices_by_billing_period.price_id,
        prices_by_billing_period.metric_name,
        prices_by_billing_period.group_value,
        prices_by_billing_period.pricing_model,
        usage_described.description,
        usage_described.child_customer_id,
        prices_by_billing_period.status,
        prices_by_billing_period.billing_timing,
        prices_by_billing_period.is_prorated,
        prices_by_billing_period.service_days,
        prices_by_billing_period.full_period_days,
        prices_by_billing_period.unit_price,
        prices_by_billing_period.flat_amount,
        prices_by_billing_period.package_size,
        prices_by_billing_period.has_tier_1_flat_at_zero,
        prices_by_billing_period.minimum_amount,
        prices_by_billing_period.maximum_amount,
        currencies.minor_units,
        coalesce(usage_described.quantity, 0) as quantity,
        -- Free units come off the top: only the usage above them is priced.
        case
            when coalesce(usage_described.quantity, 0) > coalesce(prices_by_billing_period.free_units, 0)
                then {{ usage_billing.subtract_exact(
                    'coalesce(usage_described.quantity, 0)', 'coalesce(prices_by_billing_period.free_units, 0)'
                ) }}
            else 0
        end as billable_quantity,
        case
            when prices_by_billing_period.free_units > 0
                then {{ dbt.concat([
                    'usage_described.description',
                    "' (first '",
                    usage_billing.decimal_to_text('prices_by_billing_period.free_units'),
                    "' free)'",
                ]) }}
            else usage_described.description
        end as usage_description,
        coalesce(metric_definitions.is_money, false) as is_percentage
    from prices_by_billing_period
    inner join usage_described
        on
            prices_by_billing_period.invoice_id = usage_described.invoice_id
            and prices_by_billing_period.price_id = usage_described.price_id
    left join metric_definitions
        on prices_by_billing_period.metric_name = metric_definitions.metric_name
    left join currencies
        on prices_by_billing_period.subscription_currency = currencies.currency

)

select * from priced_usage
