{#- Per customer and usage limit, the customer's live billing period: the limited metric's usage
    so far as of the build's billing clock, the limit, what remains and whether it is within
    (docs/entitlements.md). A customer's own limit on a metric replaces its plan's. Usage so
    far is the live totals' (every priced group of the metric); a metric the period does not
    price is not measured, and its row says so with empty figures. `journal_rule` lets the
    server add the events it accepted after the clock (macros/metrics/metric_journal_rule.sql). -#}
{%- set metrics = usage_billing.metric_definitions() -%}
{{ config(materialized='table') }}

with usage_limits as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_usage_limits') }}

),

billing_periods as (

    select * from {{ ref('usage_billing', 'usage_billing__billing_periods') }}
    where status = 'live'

),

live_invoice_totals as (

    select * from {{ ref('usage_billing', 'usage_billing__live_invoice_totals') }}

),

metric_definitions as (

    select * from {{ ref('usage_billing', 'usage_billing__int_metric_definitions') }}

),

journal_rules as (

    {% for metric in metrics %}
        {%- set rule = usage_billing.metric_journal_rule(metric) %}
        select
            {{ usage_billing.sql_literal(metric['name']) }} as metric_name,
            cast({{ usage_billing.string_literal(rule) if rule else 'null' }} as {{ dbt.type_string() }}) as journal_rule
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
    {% if not metrics %}
        select
            cast(null as {{ dbt.type_string() }}) as metric_name,
            cast(null as {{ dbt.type_string() }}) as journal_rule
        where 1 = 0
    {% endif %}

),

limits_of_periods as (

    -- Every limit of the period's customer or plan, the customer's own first for each metric.
    select
        billing_periods.invoice_id,
        usage_limits.limit_id,
        row_number() over (
            partition by billing_periods.invoice_id, usage_limits.metric_name
            order by case when usage_limits.customer_id is not null then 0 else 1 end
        ) as precedence
    from billing_periods
    inner join usage_limits
        on
            billing_periods.customer_id = usage_limits.customer_id
            or billing_periods.plan_id = usage_limits.plan_id

),

usage_so_far as (

    select
        invoice_id,
        metric_name,
        sum(quantity_so_far) as used_quantity
    from live_invoice_totals
    group by invoice_id, metric_name

),

final as (

    select
        billing_periods.customer_id,
        usage_limits.limit_id,
        usage_limits.metric_name,
        metric_definitions.unit,
        usage_limits.description,
        billing_periods.invoice_id,
        billing_periods.subscription_id,
        billing_periods.plan_id,
        billing_periods.period_start,
        billing_periods.period_end,
        billing_periods.as_of_at,
        usage_so_far.used_quantity,
        usage_limits.limit_quantity,
        journal_rules.journal_rule,
        coalesce(metric_definitions.display_name, usage_limits.metric_name) as metric_display_name,
        usage_so_far.invoice_id is not null as is_measured,
        case
            when usage_so_far.used_quantity >= usage_limits.limit_quantity then 0
            else usage_limits.limit_quantity - usage_so_far.used_quantity
        end as remaining_quantity,
        usage_so_far.used_quantity <= usage_limits.limit_quantity as is_within_limit
    from limits_of_periods
    inner join usage_limits
        on limits_of_periods.limit_id = usage_limits.limit_id
    inner join billing_periods
        on limits_of_periods.invoice_id = billing_periods.invoice_id
    left join usage_so_far
        on
            limits_of_periods.invoice_id = usage_so_far.invoice_id
            and usage_limits.metric_name = usage_so_far.metric_name
    left join metric_definitions
        on usage_limits.metric_name = metric_definitions.metric_name
    left join journal_rules
        on usage_limits.metric_name = journal_rules.metric_name
    where limits_of_periods.precedence = 1

)

select * from final
