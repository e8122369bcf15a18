{#- Discount lines (docs/pricing.md, "Discounts"): a discount of a customer (or of one of its
    subscriptions) applies to each invoice whose period starts on or after starts_on, for the
    first duration_periods of them per subscription (empty: forever). It takes percent_off of
    its base, rounded half-up to minor units, or amount_off (only on invoices in its currency).
    The base is the invoice's charges before credit (price lines and the commitment true-up), or
    those of one price_id or one metric. A discount never takes more than its base, and an
    invoice's discounts (in discount_id order) never more than its charges: what is left of a
    fixed amount is not carried to another invoice. -#}

with billing_periods as (

    select * from {{ ref('usage_billing', 'usage_billing__int_billing_periods') }}

),

discounts as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_discounts') }}

),

charges as (

    select * from {{ ref('usage_billing', 'usage_billing__int_invoice_charges') }}

),

prices as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_prices') }}

),

currencies as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_currencies') }}

),

charge_lines as (

    -- The period's own charges: late usage of another period is not discounted here, and
    -- credit bought is never discounted.
    select * from charges
    where charge_type not in ('late_usage_adjustment', 'credit_purchase')

),

invoice_charges as (

    select
        invoice_id,
        sum(amount) as charges
    from charge_lines
    group by invoice_id

),

applicable as (

    select
        discounts.*,
        billing_periods.invoice_id,
        billing_periods.currency as invoice_currency,
        row_number() over (
            partition by discounts.discount_id, billing_periods.subscription_id
            order by billing_periods.period_start_date
        ) as period_position
    from discounts
    inner join billing_periods
        on
            discounts.customer_id = billing_periods.customer_id
            and (discounts.subscription_id is null or discounts.subscription_id = billing_periods.subscription_id)
            and (discounts.starts_on is null or discounts.starts_on <= billing_periods.period_start_date)
            and (discounts.amount_off is null or discounts.currency = billing_periods.currency)

),

bases as (

    select
        applicable.discount_id,
        applicable.invoice_id,
        applicable.invoice_currency,
        applicable.description,
        applicable.percent_off,
        applicable.amount_off,
        applicable.price_id,
        -- The credit bucket of a scoped discount: its metric's, or its price's (int_credit_owed).
        coalesce(applicable.metric_name, prices.metric_name) as metric_name,
        coalesce(sum(charge_lines.amount), 0) as base_amount
    from applicable
    left join prices
        on applicable.price_id = prices.price_id
    left join charge_lines
        on
            applicable.invoice_id = charge_lines.invoice_id
            and (applicable.price_id is null or applicable.price_id = charge_lines.price_id)
            and (applicable.metric_name is null or applicable.metric_name = charge_lines.metric_name)
    where applicable.duration_periods is null or applicable.period_position <= applicable.duration_periods
    group by
        applicable.discount_id,
        applicable.invoice_id,
        applicable.invoice_currency,
        applicable.description,
        applicable.percent_off,
        applicable.amount_off,
        applicable.price_id,
        coalesce(applicable.metric_name, prices.metric_name)

),

uncapped as (

    select
        bases.*,
        case
            when bases.percent_off is not null
                then {{ usage_billing.round_money(
                    usage_billing.divide_exact(
                        usage_billing.multiply_exact('bases.base_amount', 'bases.percent_off'), '100', 10
                    ),
                    'currencies.minor_units',
                ) }}
            else bases.amount_off
        end as raw_amount
    from bases
    inner join currencies
        on bases.invoice_currency = currencies.currency

),

capped as (

    select
        uncapped.*,
        case
            when uncapped.raw_amount > uncapped.base_amount then greatest(uncapped.base_amount, 0)
            else greatest(uncapped.raw_amount, 0)
        end as capped_amount,
        greatest(coalesce(invoice_charges.charges, 0), 0) as invoice_charges
    from uncapped
    left join invoice_charges
        on uncapped.invoice_id = invoice_charges.invoice_id

),

running as (

    select
        *,
        sum(capped_amount) over (
            partition by invoice_id order by discount_id rows between unbounded preceding and current row
        ) as taken_through
    from capped

),

taken as (

    -- What is left of the invoice's charges caps the discounts taken in order: each takes
    -- min(charges, running total) less min(charges, running total before it).
    select
        *,
        case when taken_through < invoice_charges then taken_through else invoice_charges end
        - case
            when taken_through - capped_amount < invoice_charges then taken_through - capped_amount
            else invoice_charges
        end as taken_amount
    from running

),

final as (

    select
        discount_id,
        invoice_id,
        price_id,
        metric_name,
        description,
        -- A percentage taken whole shows as base x rate; a capped one as its amount.
        percent_off is not null and taken_amount = raw_amount as is_percentage,
        base_amount,
        percent_off,
        cast(taken_amount as {{ usage_billing.type_decimal() }}) as discount_amount
    from taken
    where taken_amount > 0

)

select * from final
