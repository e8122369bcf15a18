{#- Every threshold crossed, once per billing period (docs/usage-controls.md), computed by each
    build from the current usage and totals. A quantity level's crossing is exact: the event at
    which the period's running total first reached it (int_threshold_quantity_crossings). An
    amount level is compared with the amount so far (the invoice's charges before credit, tax
    and the minimum's true-up, or the metric's amount); invoices are priced per period, not per
    event, so its crossed_at is the latest usage the period holds, by which it was crossed, and
    is_crossed_at_exact is false. -#}

with levels as (

    select * from {{ ref('usage_billing', 'usage_billing__int_threshold_levels') }}

),

quantity_crossings as (

    select * from {{ ref('usage_billing', 'usage_billing__int_threshold_quantity_crossings') }}

),

billable_usage as (

    select * from {{ ref('usage_billing', 'usage_billing__billable_usage') }}

),

invoice_lines as (

    select * from {{ ref('usage_billing', 'usage_billing__invoice_lines') }}

),

events as (

    select * from {{ ref('usage_billing', 'usage_billing__int_usage_events_matched_to_metrics') }}

),

priced_metrics as (

    select * from {{ ref('usage_billing', 'usage_billing__int_priced_metrics_by_billing_period') }}

),

spent as (

    -- The invoice's charges so far, as its subtotal (no credit, no tax) but without the true-up
    -- to the subscription's minimum: that would make every final invoice reach its commitment.
    -- What threshold invoices billed early is still spent in the period: not netted here.
    select
        invoice_id,
        sum(amount) as amount
    from invoice_lines
    where
        line_type not in (
            'credit', 'credit_purchase', 'tax', 'tax_included', 'commitment_true_up', 'threshold_billed'
        )
    group by invoice_id

),

metric_totals as (

    select
        invoice_id,
        metric_name,
        sum(quantity) as quantity,
        sum(amount) as amount
    from billable_usage
    group by invoice_id, metric_name

),

amount_periods as (

    select distinct invoice_id from levels
    where level_kind = 'amount'

),

latest_usage as (

    -- The last event of each metric in the periods watched for an amount.
    select
        priced_metrics.invoice_id,
        priced_metrics.metric_name,
        max(events.event_at) as latest_event_at
    from priced_metrics
    inner join amount_periods
        on priced_metrics.invoice_id = amount_periods.invoice_id
    inner join events
        on
            priced_metrics.usage_customer_id = events.customer_id
            and priced_metrics.metric_name = events.metric_name
            and priced_metrics.period_start <= events.event_at
            and priced_metrics.period_end > events.event_at
    group by priced_metrics.invoice_id, priced_metrics.metric_name

),

amounts_so_far as (

    select
        levels.threshold_id,
        levels.invoice_id,
        case
            when levels.metric_name is null then spent.amount
            else metric_totals.amount
        end as amount_so_far,
        max(latest_usage.latest_event_at) as latest_event_at
    from levels
    inner join spent
        on levels.invoice_id = spent.invoice_id
    left join metric_totals
        on
            levels.invoice_id = metric_totals.invoice_id
            and levels.metric_name = metric_totals.metric_name
    left join latest_usage
        on
            levels.invoice_id = latest_usage.invoice_id
            and (levels.metric_name is null or levels.metric_name = latest_usage.metric_name)
    where levels.level_kind = 'amount'
    group by levels.threshold_id, levels.invoice_id, levels.metric_name, spent.amount, metric_totals.amount

),

crossings as (

    select
        quantity_crossings.threshold_id,
        quantity_crossings.invoice_id,
        quantity_crossings.crossed_at,
        true as is_crossed_at_exact,
        quantity_crossings.crossing_event_id,
        quantity_crossings.value_at_crossing,
        metric_totals.quantity as value_so_far
    from quantity_crossings
    inner join levels
        on
            quantity_crossings.threshold_id = levels.threshold_id
            and quantity_crossings.invoice_id = levels.invoice_id
    left join metric_totals
        on
            levels.invoice_id = metric_totals.invoice_id
            and levels.metric_name = metric_totals.metric_name

    union all

    select
        amounts_so_far.threshold_id,
        amounts_so_far.invoice_id,
        -- Fees alone (no usage yet) are owed from the period's start.
        coalesce(amounts_so_far.latest_event_at, levels.period_start) as crossed_at,
        false as is_crossed_at_exact,
        cast(null as {{ dbt.type_string() }}) as crossing_event_id,
        amounts_so_far.amount_so_far as value_at_crossing,
        amounts_so_far.amount_so_far as value_so_far
    from amounts_so_far
    inner join levels
        on
            amounts_so_far.threshold_id = levels.threshold_id
            and amounts_so_far.invoice_id = levels.invoice_id
    where amounts_so_far.amount_so_far >= levels.level_value

),

final as (

    select
        {{ dbt.concat(['levels.threshold_id', "'|'", 'levels.invoice_id']) }} as crossing_id,
        levels.threshold_id,
        levels.description,
        levels.customer_id,
        levels.subscription_id,
        levels.invoice_id,
        levels.period_start,
        levels.period_end,
        levels.invoice_status,
        levels.currency,
        levels.metric_name,
        levels.percentage,
        levels.percent_of,
        levels.level_kind,
        levels.level_value,
        crossings.crossed_at,
        crossings.is_crossed_at_exact,
        crossings.crossing_event_id,
        crossings.value_at_crossing,
        coalesce(crossings.value_so_far, 0) as value_so_far
    from crossings
    inner join levels
        on
            crossings.threshold_id = levels.threshold_id
            and crossings.invoice_id = levels.invoice_id

)

select * from final
