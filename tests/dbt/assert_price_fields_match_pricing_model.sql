-- Each pricing model needs its fields: a flat fee its amount, a package price its size, a tiered
-- price tiers starting at 1 with rising bounds and only the last one open-ended.
with prices as (

    select * from {{ ref('stg_prices') }}

),

tiers as (

    select
        *,
        lag(up_to) over (partition by price_id order by tier) as previous_up_to,
        row_number() over (partition by price_id order by tier) as tier_position,
        count(*) over (partition by price_id) as tier_count
    from {{ ref('stg_price_tiers') }}

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
