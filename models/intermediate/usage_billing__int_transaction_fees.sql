{#- Per-transaction prices: each event's value × rate + fixed fee, clamped to [transaction_minimum,
    transaction_maximum], summed per invoice and price unrounded. Free allowances go in timestamp
    order by free_allowance_rule (docs/pricing.md); a wholly free event costs 0, not the minimum.
    Parent accounts: children's events pooled in count as the period's own; a child priced apart
    has its own fees and allowances (child_customer_id). -#}
{%- set units_left = usage_billing.subtract_exact('free_units', 'free_units_used_before') %}
{%- set charged_value = usage_billing.subtract_exact('event_value', 'free_value') %}
{%- set unclamped_fee = usage_billing.add_exact(
    usage_billing.multiply_exact(charged_value, 'unit_price'), 'transaction_fixed_fee', 20) %}
{%- set minimum_fee = usage_billing.as_product('transaction_minimum') %}
{%- set maximum_fee = usage_billing.as_product('transaction_maximum') %}
{%- set with_minimum = 'case when transaction_minimum is not null and unclamped_fee < ' ~ minimum_fee
    ~ ' then ' ~ minimum_fee ~ ' else unclamped_fee end' %}

with prices_by_billing_period as (

    select * from {{ ref('usage_billing', 'usage_billing__int_prices_by_billing_period') }}

),

events as (

    select * from {{ ref('usage_billing', 'usage_billing__int_usage_events_matched_to_metrics') }}

),

usage_customers as (

    select * from {{ ref('usage_billing', 'usage_billing__int_billing_period_usage_customers') }}

),

transaction_prices as (

    select
        invoice_id,
        customer_id,
        period_start,
        period_end,
        price_id,
        metric_name,
        group_value,
        transaction_minimum,
        transaction_maximum,
        coalesce(unit_price, 0) as unit_price,
        coalesce(transaction_fixed_fee, 0) as transaction_fixed_fee,
        coalesce(free_units, 0) as free_units,
        coalesce(free_events, 0) as free_events,
        -- Lago's rule only differs when both allowances are set; with one, both rules agree.
        coalesce(
            free_allowance_rule = 'first_exhausted' and free_events > 0 and free_units > 0, false
        ) as frees_until_first_exhausted
    from prices_by_billing_period
    where pricing_model = 'per_transaction'

),

priced_groups as (

    select distinct
        invoice_id,
        metric_name,
        group_value
    from prices_by_billing_period
    where metric_name is not null

),

priced_events as (

    -- As in int_usage_by_billing_period: a group with a price of its own is priced by it, every
    -- other group by the metric's default price (empty group_value).
    select
        transaction_prices.invoice_id,
        transaction_prices.price_id,
        transaction_prices.unit_price,
        transaction_prices.transaction_fixed_fee,
        transaction_prices.transaction_minimum,
        transaction_prices.transaction_maximum,
        transaction_prices.free_units,
        transaction_prices.free_events,
        transaction_prices.frees_until_first_exhausted,
        usage_customers.child_customer_id,
        events.event_id,
        events.event_at,
        coalesce(events.metric_value, 0) as event_value
    from transaction_prices
    inner join usage_customers
        on transaction_prices.invoice_id = usage_customers.invoice_id
    inner join events
        on
            usage_customers.usage_customer_id = events.customer_id
            and transaction_prices.metric_name = events.metric_name
            and transaction_prices.period_start <= events.event_at
            and transaction_prices.period_end > events.event_at
    left join priced_groups
        on
            transaction_prices.invoice_id = priced_groups.invoice_id
            and transaction_prices.metric_name = priced_groups.metric_name
            and events.group_value = priced_groups.group_value
    where coalesce(priced_groups.group_value, '') = coalesce(transaction_prices.group_value, '')

),

numbered as (

    select
        *,
        row_number() over (
            partition by invoice_id, price_id, child_customer_id
            order by event_at, event_id
        ) as event_number
    from priced_events

),

allowance_used as (

    select
        *,
        -- Free units already used by earlier events (by default only those after the free events;
        -- under first_exhausted the free events spend units too); refunds use none.
        coalesce(sum(
            case
                when (frees_until_first_exhausted or event_number > free_events) and event_value > 0
                    then event_value
                else 0
            end
        ) over (
            partition by invoice_id, price_id, child_customer_id
            order by event_at, event_id
            rows between unbounded preceding and 1 preceding
        ), 0) as free_units_used_before
    from numbered

),

free_parts as (

    select
        *,
        case
            -- first_exhausted: free up to the units left, nothing once either allowance has run out.
            when frees_until_first_exhausted
                then case
                    when event_number > free_events or free_units <= free_units_used_before then 0
                    when event_value <= 0 or {{ units_left }} >= event_value
                        then event_value
                    else {{ units_left }}
                end
            when event_number <= free_events then event_value
            when event_value <= 0 or free_units <= free_units_used_before then 0
            when {{ units_left }} >= event_value then event_value
            else {{ units_left }}
        end as free_value
    from allowance_used

),

charged as (

    select
        *,
        {{ charged_value }} as charged_value,
        case
            -- Within both allowances and wholly covered by the units left.
            when frees_until_first_exhausted
                then
                    event_number <= free_events
                    and free_units > free_units_used_before
                    and free_value = event_value
            else event_number <= free_events or (free_value > 0 and free_value = event_value)
        end as is_free,
        {{ unclamped_fee }} as unclamped_fee
    from free_parts

),

clamped as (

    -- Raised to the minimum, then lowered to the maximum; a free event costs nothing.
    select
        *,
        case
            when is_free then 0
            when transaction_maximum is not null and {{ with_minimum }} > {{ maximum_fee }} then {{ maximum_fee }}
            else {{ with_minimum }}
        end as fee
    from charged

),

final as (

    select
        invoice_id,
        price_id,
        child_customer_id,
        cast(sum(case when is_free then 0 else charged_value end) as {{ usage_billing.type_decimal() }})
            as charged_quantity,
        sum(fee) as fee_total,
        -- count(), an integer on every engine (fakesnow sums integers as doubles: "3.0 transactions")
        count(case when is_free then null else 1 end) as charged_event_count,
        count(case when is_free then 1 end) as free_event_count
    from clamped
    group by invoice_id, price_id, child_customer_id

)

select * from final
