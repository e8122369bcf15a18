{#- The levels an in-advance usage price (a per_unit, graduated, volume or package price with
    billing_timing in_advance, on a latest or time_weighted metric: a level carried across
    periods, such as seats) prices in each period: `start`, the level in force at the period's
    start (the last value reported before it; 0 when none was), charged in advance; and, once
    the period has ended, `peak`, the highest level of the period (the start level or any value
    reported in it), which int_priced_lines_with_usage_true_ups trues up in arrears. Both are
    converted (divide_by, round) as the metric's period quantity is. Events are grouped as
    int_usage_by_billing_period groups them: a group with its own price apart, the others pooled
    into the default price. -#}
{#- A level converted as its metric's period quantity is: a case on the metric. -#}
{%- set conversions = {'start_value': [], 'peak_value_in_period': []} -%}
{%- for metric in usage_billing.metric_definitions() if metric['aggregation'] in ['latest', 'time_weighted'] -%}
    {%- for column, branches in conversions.items() -%}
        {%- do branches.append('when ' ~ usage_billing.sql_literal(metric['name']) ~ ' then '
            ~ usage_billing.metric_convert(metric, 'measured.' ~ column)) -%}
    {%- endfor -%}
{%- endfor -%}
{%- set converted = {} -%}
{%- for column, branches in conversions.items() -%}
    {%- do converted.update({column: ('case in_advance_prices.metric_name ' ~ (branches | join(' ')) ~ ' end')
        if branches else 'cast(null as ' ~ usage_billing.type_decimal() ~ ')'}) -%}
{%- endfor %}

with prices_by_billing_period as (

    select * from {{ ref('usage_billing', 'usage_billing__int_prices_by_billing_period') }}

),

events as (

    select * from {{ ref('usage_billing', 'usage_billing__int_usage_events_matched_to_metrics') }}

),

in_advance_prices as (

    select
        invoice_id,
        price_id,
        customer_id,
        metric_name,
        group_value,
        period_start,
        period_end,
        status
    from prices_by_billing_period
    where billing_timing = 'in_advance' and pricing_model <> 'flat'

),

priced_groups as (

    select distinct
        invoice_id,
        metric_name,
        group_value
    from prices_by_billing_period
    where group_value is not null

),

reports_until_period_end as (

    -- Every value the price's group reported before the period ended.
    select
        in_advance_prices.invoice_id,
        in_advance_prices.price_id,
        in_advance_prices.metric_name,
        events.metric_value,
        events.event_at >= in_advance_prices.period_start as is_in_period,
        row_number() over (
            partition by
                in_advance_prices.invoice_id,
                in_advance_prices.price_id,
                case when events.event_at < in_advance_prices.period_start then 0 else 1 end
            order by events.event_at desc, events.event_id desc
        ) as recency_rank
    from in_advance_prices
    inner join events
        on
            in_advance_prices.customer_id = events.customer_id
            and in_advance_prices.metric_name = events.metric_name
            and in_advance_prices.period_end > events.event_at
            and events.metric_value is not null
    left join priced_groups
        on
            in_advance_prices.invoice_id = priced_groups.invoice_id
            and in_advance_prices.metric_name = priced_groups.metric_name
            and events.group_value = priced_groups.group_value
    -- A group with its own price is that price's; every other group is the default price's.
    where coalesce(priced_groups.group_value, '') = coalesce(in_advance_prices.group_value, '')

),

measured as (

    select
        invoice_id,
        price_id,
        metric_name,
        max(case when not is_in_period and recency_rank = 1 then metric_value end) as start_value,
        max(case when is_in_period then metric_value end) as peak_value_in_period
    from reports_until_period_end
    group by invoice_id, price_id, metric_name

),

levels as (

    select
        in_advance_prices.invoice_id,
        in_advance_prices.price_id,
        in_advance_prices.status,
        {{ converted['start_value'] }} as start_value,
        {{ converted['peak_value_in_period'] }} as peak_value_in_period
    from in_advance_prices
    -- Read by the conversions above, which are null in a project without level metrics.
    left join measured  -- noqa: ST11
        on
            in_advance_prices.invoice_id = measured.invoice_id
            and in_advance_prices.price_id = measured.price_id

),

final as (

    select
        invoice_id,
        price_id,
        'start' as usage_level,
        cast(coalesce(start_value, 0) as {{ usage_billing.type_decimal() }}) as level_quantity
    from levels

    union all

    -- The peak only once the period has ended: the true-up is settled in arrears.
    select
        invoice_id,
        price_id,
        'peak' as usage_level,
        cast(
            case
                when peak_value_in_period > coalesce(start_value, 0) then peak_value_in_period
                else coalesce(start_value, 0)
            end as {{ usage_billing.type_decimal() }}
        ) as level_quantity
    from levels
    where status <> 'live'

)

select * from final
