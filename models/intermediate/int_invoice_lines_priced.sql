{#- One row per invoice line before numbering: each price of the period turned into amounts by
    its pricing model. Amounts are rounded per line to the currency's minor units. -#}

with prices_by_billing_period as (

    select * from {{ ref('int_prices_by_billing_period') }}

),

usage_by_billing_period as (

    select * from {{ ref('int_usage_by_billing_period') }}

),

price_tiers as (

    select * from {{ ref('stg_price_tiers') }}

),

metric_definitions as (

    select * from {{ ref('int_metric_definitions') }}

),

currencies as (

    select * from {{ ref('stg_currencies') }}

),

priced_usage as (

    select
        prices_by_billing_period.*,
        currencies.minor_units,
        coalesce(usage_by_billing_period.quantity, 0) as quantity,
        coalesce(metric_definitions.is_money, false) as is_percentage
    from prices_by_billing_period
    left join usage_by_billing_period
        on
            prices_by_billing_period.invoice_id = usage_by_billing_period.invoice_id
            and prices_by_billing_period.metric_name = usage_by_billing_period.metric_name
            and coalesce(prices_by_billing_period.group_value, '') = coalesce(usage_by_billing_period.group_value, '')
    left join metric_definitions
        on prices_by_billing_period.metric_name = metric_definitions.metric_name
    left join currencies
        on prices_by_billing_period.subscription_currency = currencies.currency

),

tiers_with_floor as (

    select
        *,
        -- A tier holds the quantities above the previous tier's up_to, up to its own (inclusive).
        coalesce(lag(up_to) over (partition by price_id order by tier), 0) as tier_floor
    from price_tiers

),

flat_lines as (

    select
        invoice_id,
        price_id,
        metric_name,
        group_value,
        description,
        cast(null as {{ dbt.type_int() }}) as tier,
        cast(1 as {{ usage_billing.type_decimal() }}) as quantity,
        flat_amount as unit_price,
        cast(0 as {{ usage_billing.type_decimal() }}) as flat_amount,
        {{ usage_billing.round_money('flat_amount', 'minor_units') }} as amount,
        false as is_percentage
    from priced_usage
    where pricing_model = 'flat'

),

per_unit_lines as (

    select
        invoice_id,
        price_id,
        metric_name,
        group_value,
        description,
        cast(null as {{ dbt.type_int() }}) as tier,
        quantity,
        unit_price,
        cast(0 as {{ usage_billing.type_decimal() }}) as flat_amount,
        {{ usage_billing.round_money('quantity * unit_price', 'minor_units') }} as amount,
        is_percentage
    from priced_usage
    where pricing_model = 'per_unit'

),

package_counts as (

    select
        *,
        -- Packages are whole: 1,001 units in packages of 1,000 are two packages.
        cast(
            {{ usage_billing.ceil_divide('quantity', 'package_size') }} as {{ usage_billing.type_decimal() }}
        ) as package_count
    from priced_usage
    where pricing_model = 'package'

),

package_lines as (

    select
        invoice_id,
        price_id,
        metric_name,
        group_value,
        description,
        cast(null as {{ dbt.type_int() }}) as tier,
        package_count as quantity,
        unit_price,
        cast(0 as {{ usage_billing.type_decimal() }}) as flat_amount,
        {{ usage_billing.round_money('package_count * unit_price', 'minor_units') }} as amount,
        false as is_percentage
    from package_counts

),

tiered_usage as (

    select
        priced_usage.invoice_id,
        priced_usage.price_id,
        priced_usage.metric_name,
        priced_usage.group_value,
        priced_usage.description,
        priced_usage.pricing_model,
        priced_usage.quantity,
        priced_usage.is_percentage,
        priced_usage.minor_units,
        tiers_with_floor.tier,
        tiers_with_floor.tier_floor,
        tiers_with_floor.up_to,
        tiers_with_floor.unit_price,
        tiers_with_floor.flat_amount
    from priced_usage
    inner join tiers_with_floor
        on priced_usage.price_id = tiers_with_floor.price_id
    where priced_usage.pricing_model in ('graduated', 'volume')

),

graduated_units as (

    select
        *,
        -- Units of the total falling inside this tier; tier 1 is always shown, even at zero.
        case
            when up_to is not null and quantity > up_to then up_to - tier_floor
            when quantity > tier_floor then quantity - tier_floor
            else 0
        end as tier_quantity
    from tiered_usage
    where
        pricing_model = 'graduated'
        and (quantity > tier_floor or tier = 1)

),

graduated_lines as (

    select
        invoice_id,
        price_id,
        metric_name,
        group_value,
        {{ dbt.concat(["'Tier '", 'cast(tier as ' ~ dbt.type_string() ~ ')', "' - '", 'description']) }} as description,
        tier,
        tier_quantity as quantity,
        unit_price,
        flat_amount,
        {{ usage_billing.round_money('tier_quantity * unit_price + flat_amount', 'minor_units') }} as amount,
        is_percentage
    from graduated_units

),

volume_lines as (

    select
        invoice_id,
        price_id,
        metric_name,
        group_value,
        {{ dbt.concat(["'Tier '", 'cast(tier as ' ~ dbt.type_string() ~ ')', "' - '", 'description']) }} as description,
        tier,
        quantity,
        unit_price,
        flat_amount,
        {{ usage_billing.round_money('quantity * unit_price + flat_amount', 'minor_units') }} as amount,
        is_percentage
    from tiered_usage
    where
        pricing_model = 'volume'
        -- Every unit is priced at the tier the total reaches; zero usage sits in tier 1.
        and (
            (quantity > tier_floor and (up_to is null or quantity <= up_to))
            or (quantity = 0 and tier = 1)
        )

),

unioned as (

    select * from flat_lines
    union all
    select * from per_unit_lines
    union all
    select * from package_lines
    union all
    select * from graduated_lines
    union all
    select * from volume_lines

)

select * from unioned
