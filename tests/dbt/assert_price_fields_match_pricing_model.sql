-- Each pricing model needs its fields, and a field a model ignores must be empty (an ignored
-- minimum is a wrong invoice): a flat fee its amount, a package price its size, a tiered price
-- tiers starting at 1 with rising bounds and only the last one open-ended, a per-transaction
-- price a sum or count metric.
with prices as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_prices') }}

),

metrics as (

    select * from {{ ref('usage_billing', 'usage_billing__int_metric_definitions') }}

),

tiers as (

    select
        *,
        lag(up_to) over (partition by price_id order by tier) as previous_up_to,
        row_number() over (partition by price_id order by tier) as tier_position,
        count(*) over (partition by price_id) as tier_count
    from {{ ref('usage_billing', 'usage_billing__stg_price_tiers') }}

),

problems as (

    select
        price_id,
        'flat price without flat_amount' as problem
    from prices
    where pricing_model = 'flat' and flat_amount is null

    union all

    select
        price_id,
        'usage price without metric' as problem
    from prices
    where pricing_model <> 'flat' and metric_name is null

    union all

    select
        price_id,
        'per_unit or package price without unit_price' as problem
    from prices
    where pricing_model in ('per_unit', 'package') and unit_price is null

    union all

    select
        price_id,
        'package price without a positive package_size' as problem
    from prices
    where pricing_model = 'package' and not coalesce(package_size > 0, false)

    union all

    select
        price_id,
        'per_transaction price without unit_price or transaction_fixed_fee' as problem
    from prices
    where pricing_model = 'per_transaction' and unit_price is null and transaction_fixed_fee is null

    union all

    select
        prices.price_id,
        'per_transaction price on a metric that is not a plain sum or count of events' as problem
    from prices
    inner join metrics
        on prices.metric_name = metrics.metric_name
    where
        prices.pricing_model = 'per_transaction'
        and (metrics.aggregation not in ('sum', 'count') or metrics.is_converted)

    union all

    select
        price_id,
        'transaction fees, minimums, maximums and free_events apply to per_transaction prices only'
            as problem
    from prices
    where
        pricing_model <> 'per_transaction'
        and (
            transaction_fixed_fee is not null
            or transaction_minimum is not null
            or transaction_maximum is not null
            or free_events is not null
        )

    union all

    -- stg_prices reads an empty rule as events_then_units, so only a misspelt rule or Lago's on
    -- another model shows here.
    select
        price_id,
        'free_allowance_rule must be events_then_units or first_exhausted (per_transaction only)'
            as problem
    from prices
    where
        free_allowance_rule not in ('events_then_units', 'first_exhausted')
        or (free_allowance_rule = 'first_exhausted' and pricing_model <> 'per_transaction')

    union all

    select
        price_id,
        'transaction_minimum above transaction_maximum' as problem
    from prices
    where transaction_minimum > transaction_maximum

    union all

    select
        price_id,
        'free_units and free_events must not be negative, nor free_units on a flat fee' as problem
    from prices
    where free_units < 0 or free_events < 0 or (pricing_model = 'flat' and free_units is not null)

    union all

    select
        price_id,
        'minimum_amount above maximum_amount' as problem
    from prices
    where minimum_amount > maximum_amount

    union all

    select
        price_id,
        'billing_timing must be in_arrears or in_advance' as problem
    from prices
    where billing_timing not in ('in_arrears', 'in_advance')

    union all

    -- Usage is known in advance only as a level carried across periods (seats): a count or a
    -- sum of a period cannot be charged before it happens.
    select
        prices.price_id,
        {{ dbt.concat([
            "'in_advance usage needs a per_unit, graduated, volume or package price'",
            "' on a latest or time_weighted metric; prorate needs in_advance'",
        ]) }} as problem
    from prices
    left join metrics
        on prices.metric_name = metrics.metric_name
    where
        prices.pricing_model <> 'flat'
        and (
            (
                prices.billing_timing = 'in_advance'
                and (
                    prices.pricing_model not in ('per_unit', 'graduated', 'volume', 'package')
                    or coalesce(metrics.aggregation, '') not in ('latest', 'time_weighted')
                )
            )
            or (prices.is_prorated and prices.billing_timing <> 'in_advance')
        )

    union all

    select
        prices.price_id,
        'tiered price without tiers' as problem
    from prices
    left join tiers
        on prices.price_id = tiers.price_id
    where prices.pricing_model in ('graduated', 'volume') and tiers.price_id is null

    union all

    select
        price_id,
        'tiers must be numbered 1, 2, 3, …' as problem
    from tiers
    where tier <> tier_position

    union all

    select
        price_id,
        'tier bounds must rise' as problem
    from tiers
    where up_to <= previous_up_to or (previous_up_to is null and tier_position > 1)

    union all

    select
        price_id,
        'only the last tier may be open-ended' as problem
    from tiers
    where up_to is null and tier_position < tier_count

    union all

    select
        price_id,
        'the last tier must be open-ended (empty up_to), or usage above it is unbilled' as problem
    from tiers
    where up_to is not null and tier_position = tier_count

)

select * from problems
