{#- Late usage of closed invoices under the policy next_open_period (docs/closing-periods.md):
    per closed invoice and price (the commitment true-up as one more), what the period would
    cost now less what was frozen and less what earlier adjustments, now frozen on other
    invoices, already billed. The difference of rounded lines is the marginal price of the
    late units in the closed period's own tiers. It goes on the subscription's next invoice
    not frozen yet, before credit; with none (the subscription has ended), it has no
    target_invoice_id and the mart late_usage_adjustments lists it as unbilled. -#}

with frozen_lines as (

    select * from {{ ref('usage_billing', 'usage_billing__int_closed_invoice_state') }}

),

closures as (

    select * from {{ ref('usage_billing', 'usage_billing__int_invoice_closures') }}

),

price_lines as (

    select * from {{ ref('usage_billing', 'usage_billing__int_invoice_lines_priced') }}

),

commitment_lines as (

    select * from {{ ref('usage_billing', 'usage_billing__int_invoice_commitments') }}

),

prices as (

    select * from {{ ref('usage_billing', 'usage_billing__int_prices_by_billing_period') }}

),

currencies as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_currencies') }}

),

charges as (

    -- Commitment true-ups have no price: the key '' holds them.
    select
        invoice_id,
        coalesce(price_id, '') as price_key,
        metric_name,
        group_value,
        amount as current_amount,
        cast(0 as {{ usage_billing.type_decimal() }}) as frozen_amount,
        cast(0 as {{ usage_billing.type_decimal() }}) as billed_before_amount
    from price_lines
    union all
    select
        invoice_id,
        '' as price_key,
        cast(null as {{ dbt.type_string() }}) as metric_name,
        cast(null as {{ dbt.type_string() }}) as group_value,
        amount as current_amount,
        cast(0 as {{ usage_billing.type_decimal() }}) as frozen_amount,
        cast(0 as {{ usage_billing.type_decimal() }}) as billed_before_amount
    from commitment_lines
    union all
    -- What the closed invoice billed itself: its price lines and commitment true-up, as the
    -- side above recomputes them (discounts, credit bought or drawn, tax, its own adjustments
    -- and its netting of threshold invoices aside: under the key '' they would read as a
    -- commitment true-up).
    select
        invoice_id,
        coalesce(price_id, '') as price_key,
        metric_name,
        group_value,
        cast(0 as {{ usage_billing.type_decimal() }}) as current_amount,
        amount as frozen_amount,
        cast(0 as {{ usage_billing.type_decimal() }}) as billed_before_amount
    from frozen_lines
    where
        line_type not in (
            'discount', 'credit_purchase', 'credit', 'tax', 'tax_included', 'late_usage_adjustment',
            'threshold_billed'
        )
    union all
    -- Adjustments for it frozen on later invoices: billed already, never billed again.
    select
        adjusted_invoice_id as invoice_id,
        coalesce(price_id, '') as price_key,
        metric_name,
        group_value,
        cast(0 as {{ usage_billing.type_decimal() }}) as current_amount,
        cast(0 as {{ usage_billing.type_decimal() }}) as frozen_amount,
        amount as billed_before_amount
    from frozen_lines
    where line_type = 'late_usage_adjustment'

),

differences as (

    select
        charges.invoice_id,
        charges.price_key,
        max(charges.metric_name) as metric_name,
        max(charges.group_value) as group_value,
        cast(sum(charges.current_amount) as {{ usage_billing.type_decimal() }}) as current_amount,
        cast(sum(charges.frozen_amount) as {{ usage_billing.type_decimal() }}) as frozen_amount,
        cast(sum(charges.billed_before_amount) as {{ usage_billing.type_decimal() }}) as billed_before_amount
    from charges
    inner join closures
        on charges.invoice_id = closures.invoice_id
    where closures.is_frozen
    group by charges.invoice_id, charges.price_key

),

targets as (

    -- The adjusted invoice's next period (of its subscription) that is not frozen yet.
    select
        adjusted.invoice_id as adjusted_invoice_id,
        later.invoice_id as target_invoice_id,
        row_number() over (partition by adjusted.invoice_id order by later.period_start) as nearness
    from closures as adjusted
    inner join closures as later
        on
            adjusted.subscription_id = later.subscription_id
            and later.period_start >= adjusted.period_end
            -- An invoice closed by this very build is frozen with the line on it.
            and not later.is_frozen
    where adjusted.is_frozen

),

final as (

    select
        {{ dbt.concat(['differences.invoice_id', "'|'", 'differences.price_key']) }} as adjustment_id,
        differences.invoice_id as adjusted_invoice_id,
        targets.target_invoice_id,
        closures.subscription_id,
        closures.customer_id,
        closures.currency,
        nullif(differences.price_key, '') as price_id,
        differences.metric_name,
        differences.group_value,
        {{ dbt.concat([
            "'Late usage for '",
            'cast(closures.period_start_date as ' ~ dbt.type_string() ~ ')',
            "' to '",
            'cast(closures.period_last_date as ' ~ dbt.type_string() ~ ')',
            "': '",
            "case when differences.price_key = '' then 'Minimum commitment true-up'"
            ~ " else coalesce(prices.description, differences.price_key) end",
        ]) }} as description,
        differences.current_amount,
        differences.frozen_amount,
        differences.billed_before_amount,
        {{ usage_billing.round_money(
            'differences.current_amount - differences.frozen_amount - differences.billed_before_amount',
            'currencies.minor_units',
        ) }} as amount
    from differences
    inner join closures
        on differences.invoice_id = closures.invoice_id
    left join targets
        on differences.invoice_id = targets.adjusted_invoice_id and targets.nearness = 1
    left join prices
        on differences.invoice_id = prices.invoice_id and differences.price_key = prices.price_id
    left join currencies
        on closures.currency = currencies.currency
    where differences.current_amount <> differences.frozen_amount + differences.billed_before_amount

)

select * from final
