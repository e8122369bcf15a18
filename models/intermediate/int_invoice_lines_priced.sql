{#- One row per invoice line of a price, before numbering: each price of the period turned into
    amounts by its pricing model, then the price's minimum (a true-up line) and maximum (a
    discount line). Amounts are rounded per line to the currency's minor units; minimums and caps
    compare the rounded lines, so a price's lines add up to exactly its minimum or maximum. -#}

with prices_by_billing_period as (

    select * from {{ ref('int_prices_by_billing_period') }}

),

usage_by_billing_period as (

    select * from {{ ref('int_usage_by_billing_period') }}

),

transaction_fees as (

    select * from {{ ref('int_transaction_fees') }}

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
        -- Free units come off the top: only the usage above them is priced.
        case
            when coalesce(usage_by_billing_period.quantity, 0) > coalesce(prices_by_billing_period.free_units, 0)
                then coalesce(usage_by_billing_period.quantity, 0) - coalesce(prices_by_billing_period.free_units, 0)
            else 0
        end as billable_quantity,
        case
            when prices_by_billing_period.free_units > 0
                then {{ dbt.concat([
                    'prices_by_billing_period.description',
                    "' (first '",
                    usage_billing.decimal_to_text('prices_by_billing_period.free_units'),
                    "' free)'",
                ]) }}
            else prices_by_billing_period.description
        end as usage_description,
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

flat_fees as (

    select
        *,
        -- Prorated by the days of the period the subscription covers, exact to 10 decimals.
        is_prorated and service_days < full_period_days as is_prorated_here
    from priced_usage
    where
        pricing_model = 'flat'
        -- In arrears: billed once the period has ended. In advance: on the invoice from its first day.
        and (billing_timing = 'in_advance' or status <> 'live')

),

flat_lines as (

    select
        invoice_id,
        price_id,
        metric_name,
        group_value,
        'fee' as line_type,
        0 as line_order,
        case
            when is_prorated_here
                then {{ dbt.concat([
                    'description',
                    "' (prorated '",
                    'cast(service_days as ' ~ dbt.type_string() ~ ')',
                    "'/'",
                    'cast(full_period_days as ' ~ dbt.type_string() ~ ')',
                    "' days)'",
                ]) }}
            else description
        end as description,
        cast(null as {{ dbt.type_int() }}) as tier,
        cast(1 as {{ usage_billing.type_decimal() }}) as quantity,
        case
            when is_prorated_here
                then {{ usage_billing.round_money(
                    usage_billing.divide_exact('flat_amount * service_days', 'full_period_days', 10),
                    'minor_units',
                ) }}
            else flat_amount
        end as unit_price,
        cast(0 as {{ usage_billing.type_decimal() }}) as flat_amount,
        case
            when is_prorated_here
                then {{ usage_billing.round_money(
                    usage_billing.divide_exact('flat_amount * service_days', 'full_period_days', 10),
                    'minor_units',
                ) }}
            else {{ usage_billing.round_money('flat_amount', 'minor_units') }}
        end as amount,
        false as is_percentage
    from flat_fees

),

per_unit_lines as (

    select
        invoice_id,
        price_id,
        metric_name,
        group_value,
        'usage' as line_type,
        0 as line_order,
        usage_description as description,
        cast(null as {{ dbt.type_int() }}) as tier,
        billable_quantity as quantity,
        unit_price,
        cast(0 as {{ usage_billing.type_decimal() }}) as flat_amount,
        {{ usage_billing.round_money('billable_quantity * unit_price', 'minor_units') }} as amount,
        is_percentage
    from priced_usage
    where pricing_model = 'per_unit'

),

package_counts as (

    select
        *,
        -- Packages are whole: 1,001 units in packages of 1,000 are two packages.
        cast(
            {{ usage_billing.ceil_divide('billable_quantity', 'package_size') }} as {{ usage_billing.type_decimal() }}
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
        'usage' as line_type,
        0 as line_order,
        usage_description as description,
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
        priced_usage.usage_description,
        priced_usage.pricing_model,
        priced_usage.billable_quantity,
        priced_usage.is_percentage,
        priced_usage.minor_units,
        tiers_with_floor.tier,
        tiers_with_floor.tier_floor,
        tiers_with_floor.up_to,
        tiers_with_floor.unit_price,
        -- Tier 1's flat amount at zero usage is charged unless the price says otherwise.
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

),

graduated_units as (

    select
        *,
        -- Units of the total falling inside this tier; tier 1 is always shown, even at zero.
        case
            when up_to is not null and billable_quantity > up_to then up_to - tier_floor
            when billable_quantity > tier_floor then billable_quantity - tier_floor
            else 0
        end as tier_quantity
    from tiered_usage
    where
        pricing_model = 'graduated'
        and (billable_quantity > tier_floor or tier = 1)

),

graduated_lines as (

    select
        invoice_id,
        price_id,
        metric_name,
        group_value,
        'usage' as line_type,
        tier as line_order,
        {{ dbt.concat(["'Tier '", 'cast(tier as ' ~ dbt.type_string() ~ ')', "' - '", 'usage_description']) }}
            as description,
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
        'usage' as line_type,
        tier as line_order,
        {{ dbt.concat(["'Tier '", 'cast(tier as ' ~ dbt.type_string() ~ ')', "' - '", 'usage_description']) }}
            as description,
        tier,
        billable_quantity as quantity,
        unit_price,
        flat_amount,
        {{ usage_billing.round_money('billable_quantity * unit_price + flat_amount', 'minor_units') }} as amount,
        is_percentage
    from tiered_usage
    where
        pricing_model = 'volume'
        -- Every unit is priced at the tier the total reaches; zero usage sits in tier 1.
        and (
            (billable_quantity > tier_floor and (up_to is null or billable_quantity <= up_to))
            or (billable_quantity = 0 and tier = 1)
        )

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
    where priced_usage.pricing_model = 'per_transaction'

),

transaction_lines as (

    select
        invoice_id,
        price_id,
        metric_name,
        group_value,
        'usage' as line_type,
        0 as line_order,
        {{ dbt.concat([
            'description',
            "' ('",
            'cast(charged_event_count as ' ~ dbt.type_string() ~ ')',
            "case when charged_event_count = 1 then ' transaction' else ' transactions' end",
            "case when free_event_count > 0 then " ~ dbt.concat([
                "', '", 'cast(free_event_count as ' ~ dbt.type_string() ~ ')', "' free'",
            ]) ~ " else '' end",
            "')'",
        ]) }} as description,
        cast(null as {{ dbt.type_int() }}) as tier,
        charged_quantity as quantity,
        coalesce(unit_price, 0) as unit_price,
        -- Fixed fees and the minimum and maximum adjustments: what the rate alone does not explain.
        cast(fee_total - charged_quantity * coalesce(unit_price, 0) as {{ usage_billing.type_decimal() }})
            as flat_amount,
        {{ usage_billing.round_money('fee_total', 'minor_units') }} as amount,
        is_percentage
    from transaction_usage

),

model_lines as (

    select * from flat_lines
    union all
    select * from per_unit_lines
    union all
    select * from package_lines
    union all
    select * from graduated_lines
    union all
    select * from volume_lines
    union all
    select * from transaction_lines

),

price_totals as (

    select
        priced_usage.invoice_id,
        priced_usage.price_id,
        priced_usage.metric_name,
        priced_usage.group_value,
        priced_usage.description,
        priced_usage.status,
        priced_usage.is_percentage,
        {{ usage_billing.round_money('priced_usage.minimum_amount', 'priced_usage.minor_units') }} as minimum_amount,
        {{ usage_billing.round_money('priced_usage.maximum_amount', 'priced_usage.minor_units') }} as maximum_amount,
        coalesce(sum(model_lines.amount), 0) as price_amount
    from priced_usage
    left join model_lines
        on
            priced_usage.invoice_id = model_lines.invoice_id
            and priced_usage.price_id = model_lines.price_id
    where priced_usage.minimum_amount is not null or priced_usage.maximum_amount is not null
    group by
        priced_usage.invoice_id,
        priced_usage.price_id,
        priced_usage.metric_name,
        priced_usage.group_value,
        priced_usage.description,
        priced_usage.status,
        priced_usage.is_percentage,
        priced_usage.minimum_amount,
        priced_usage.maximum_amount,
        priced_usage.minor_units

),

adjustment_lines as (

    -- A price's minimum is settled when the period ends; its cap applies to the running total too.
    select
        invoice_id,
        price_id,
        metric_name,
        group_value,
        case when price_amount < minimum_amount then 'minimum_true_up' else 'maximum_discount' end as line_type,
        case when price_amount < minimum_amount then 1000 else 1001 end as line_order,
        case
            when price_amount < minimum_amount then {{ dbt.concat(["'Minimum charge true-up - '", 'description']) }}
            else {{ dbt.concat(["'Maximum charge discount - '", 'description']) }}
        end as description,
        cast(null as {{ dbt.type_int() }}) as tier,
        cast(1 as {{ usage_billing.type_decimal() }}) as quantity,
        cast(
            case
                when price_amount < minimum_amount then minimum_amount - price_amount
                else maximum_amount - price_amount
            end as {{ usage_billing.type_decimal() }}
        ) as unit_price,
        cast(0 as {{ usage_billing.type_decimal() }}) as flat_amount,
        cast(
            case
                when price_amount < minimum_amount then minimum_amount - price_amount
                else maximum_amount - price_amount
            end as {{ usage_billing.type_decimal() }}
        ) as amount,
        false as is_percentage
    from price_totals
    where
        (price_amount < minimum_amount and status <> 'live')
        or price_amount > maximum_amount

),

final as (

    select * from model_lines
    union all
    select * from adjustment_lines

)

select * from final
