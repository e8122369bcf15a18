with usage_by_billing_period as (

    select * from {{ ref('usage_billing', 'usage_billing__int_usage_by_billing_period') }}

),

invoice_lines as (

    select * from {{ ref('usage_billing', 'usage_billing__invoice_lines') }}

),

billing_periods as (

    select * from {{ ref('usage_billing', 'usage_billing__int_billing_periods') }}

),

metric_definitions as (

    select * from {{ ref('usage_billing', 'usage_billing__int_metric_definitions') }}

),

customers as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_customers') }}

),

metric_amounts as (

    select
        invoice_id,
        metric_name,
        group_value,
        child_customer_id,
        sum(amount) as amount
    from invoice_lines
    -- What the usage cost: its lines, minimums and caps; prepaid credit is how it was paid, and
    -- a late-usage adjustment is another period's usage.
    where metric_name is not null and line_type not in ('credit', 'late_usage_adjustment')
    group by invoice_id, metric_name, group_value, child_customer_id

),

final as (

    select
        usage_by_billing_period.invoice_id,
        usage_by_billing_period.subscription_id,
        usage_by_billing_period.customer_id,
        usage_by_billing_period.period_start,
        usage_by_billing_period.period_end,
        usage_by_billing_period.metric_name,
        usage_by_billing_period.group_value,
        usage_by_billing_period.measured_quantity,
        usage_by_billing_period.quantity,
        usage_by_billing_period.event_count,
        metric_definitions.display_name as metric_display_name,
        metric_definitions.unit,
        metric_definitions.is_money,
        billing_periods.currency,
        coalesce(metric_amounts.amount, 0) as amount,
        -- What a unit cost on average across tiers (a rate for money metrics); null without usage.
        case
            when usage_by_billing_period.quantity > 0
                then {{ usage_billing.divide_exact(
                    'coalesce(metric_amounts.amount, 0)',
                    'usage_by_billing_period.quantity',
                    10,
                ) }}
        end as effective_unit_price,
        -- Parent accounts: the child whose usage the row is, priced apart (empty: the period's own).
        usage_by_billing_period.child_customer_id,
        children.customer_name as child_customer_name
    from usage_by_billing_period
    inner join billing_periods
        on usage_by_billing_period.invoice_id = billing_periods.invoice_id
    left join metric_amounts
        on
            usage_by_billing_period.invoice_id = metric_amounts.invoice_id
            and usage_by_billing_period.metric_name = metric_amounts.metric_name
            and coalesce(usage_by_billing_period.group_value, '') = coalesce(metric_amounts.group_value, '')
            and coalesce(usage_by_billing_period.child_customer_id, '') = coalesce(metric_amounts.child_customer_id, '')
    left join metric_definitions
        on usage_by_billing_period.metric_name = metric_definitions.metric_name
    left join customers as children
        on usage_by_billing_period.child_customer_id = children.customer_id

)

select * from final
