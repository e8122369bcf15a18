-- The whole account: every raw event is rejected with a reason, counted on an invoice, or
-- listed in unbilled_usage, and none is counted twice (docs/unbilled-usage.md). Counts, as
-- signed entries that must add up to zero for each account:
--   raw rows = accepted + rejected;
--   per customer, accepted events = events matched to some metric (each by the row of its first
--   metric, is_first_match_of_event: a count, not a distinct count of ids) + unbilled
--   matches_no_metric;
--   per customer and metric, its matched rows = the event_count billable_usage bills in its
--   priced periods + the unbilled rows (an event billed twice or dropped unbalances it);
--   gauges, whose period event_count also counts a level carried in from before the period,
--   are checked level by level instead: each period's event_count is the levels held in it,
--   and the levels held in no priced period are exactly the unbilled ones.
-- Relation metrics' rows are in the metric accounts too. The metric accounts are kept per
-- family (a parent and its children, docs/pricing.md "Parent accounts"): a parent's invoice
-- may bill its children's events. Per customer and metric, not per
-- event: a missing event and one billed twice in the same account would offset each other.
{%- set gauge_names = [] -%}
{%- for metric in usage_billing.metric_definitions() if metric['aggregation'] == 'time_weighted' -%}
    {%- do gauge_names.append(usage_billing.sql_literal(metric['name'])) -%}
{%- endfor -%}
{%- set is_gauge = ('(metric_name in (' ~ gauge_names | join(', ') ~ '))') if gauge_names else 'false' -%}
{%- set no_text = 'cast(null as ' ~ dbt.type_string() ~ ')' %}

with validated as (

    select * from {{ ref('usage_billing', 'usage_billing__int_usage_events_validated') }}

),

matched as (

    select * from {{ ref('usage_billing', 'usage_billing__int_usage_events_matched_to_metrics') }}

),

billed as (

    select * from {{ ref('usage_billing', 'usage_billing__billable_usage') }}

),

unbilled as (

    select * from {{ ref('usage_billing', 'usage_billing__unbilled_usage') }}

),

families as (

    -- The account a customer's metric rows are kept in: its parent's, or its own.
    select
        customer_id,
        coalesce(parent_customer_id, customer_id) as family_id
    from {{ ref('usage_billing', 'usage_billing__stg_customers') }}

),

{% if gauge_names %}
    priced_groups as (

        select * from {{ ref('usage_billing', 'usage_billing__int_priced_groups_by_billing_period') }}

    ),

    priced_periods as (

        select
            invoice_id,
            customer_id,
            period_start,
            period_end,
            metric_name,
            max(case when is_default_price then 1 else 0 end) as has_default_price
        from priced_groups
        group by invoice_id, customer_id, period_start, period_end, metric_name

    ),

    gauge_levels as (

        -- Each report holds its level until the next one of its customer, metric and group.
        select
            customer_id,
            metric_name,
            group_value,
            event_at,
            lead(event_at) over (
                partition by customer_id, metric_name, group_value
                order by event_at, event_id
            ) as held_until
        from matched
        where {{ is_gauge }}

    ),

    gauge_levels_in_periods as (

        -- A level is in a priced period it is held in before the clock, in its own priced
        -- group or pooled into the default price.
        select
            priced_periods.invoice_id,
            priced_periods.metric_name
        from gauge_levels
        inner join priced_periods
            on
                gauge_levels.customer_id = priced_periods.customer_id
                and gauge_levels.metric_name = priced_periods.metric_name
                and gauge_levels.event_at < priced_periods.period_end
                and gauge_levels.event_at < {{ usage_billing.as_of_timestamp() }}
                and (gauge_levels.held_until is null or gauge_levels.held_until > priced_periods.period_start)
        left join priced_groups as own_group
            on
                priced_periods.invoice_id = own_group.invoice_id
                and priced_periods.metric_name = own_group.metric_name
                and gauge_levels.group_value = own_group.group_value
                and not own_group.is_default_price
        where priced_periods.has_default_price = 1 or own_group.invoice_id is not null

    ),

    gauge_levels_in_no_period as (

        select gauge_levels.customer_id, gauge_levels.metric_name
        from gauge_levels
        left join priced_groups
            on
                gauge_levels.customer_id = priced_groups.customer_id
                and gauge_levels.metric_name = priced_groups.metric_name
                and gauge_levels.event_at < priced_groups.period_end
                and gauge_levels.event_at < {{ usage_billing.as_of_timestamp() }}
                and (gauge_levels.held_until is null or gauge_levels.held_until > priced_groups.period_start)
                and (priced_groups.is_default_price or priced_groups.group_value = gauge_levels.group_value)
        where priced_groups.invoice_id is null

    ),
{% endif %}

entries as (

    select
        'raw rows = accepted + rejected' as account_name,
        {{ no_text }} as customer_id,
        {{ no_text }} as metric_name,
        {{ no_text }} as invoice_id,
        count(*) as signed_count
    from {{ source('usage_billing', 'usage_events') }}
    union all
    select
        'raw rows = accepted + rejected' as account_name,
        {{ no_text }} as customer_id,
        {{ no_text }} as metric_name,
        {{ no_text }} as invoice_id,
        -count(*) as signed_count
    from validated
    where rejection_reason is null
    union all
    select
        'raw rows = accepted + rejected' as account_name,
        {{ no_text }} as customer_id,
        {{ no_text }} as metric_name,
        {{ no_text }} as invoice_id,
        -count(*) as signed_count
    from {{ ref('usage_billing', 'usage_billing__usage_events_rejected') }}
    union all
    select
        'accepted events = matched + matches_no_metric' as account_name,
        customer_id,
        {{ no_text }} as metric_name,
        {{ no_text }} as invoice_id,
        count(*) as signed_count
    from validated
    where rejection_reason is null
    group by customer_id
    union all
    select
        'accepted events = matched + matches_no_metric' as account_name,
        customer_id,
        {{ no_text }} as metric_name,
        {{ no_text }} as invoice_id,
        -count(*) as signed_count
    from matched
    where is_first_match_of_event
    group by customer_id
    union all
    select
        'accepted events = matched + matches_no_metric' as account_name,
        customer_id,
        {{ no_text }} as metric_name,
        {{ no_text }} as invoice_id,
        -sum(event_count) as signed_count
    from unbilled
    where reason = 'matches_no_metric'
    group by customer_id
    union all
    {%- for relation, counted, where in [
        ('matched', 'count(*)', 'true'),
        ('billed', '-sum(event_count)', 'true'),
        ('unbilled', '-sum(event_count)', 'metric_name is not null'),
    ] %}
        select
            'metric rows = billed + unbilled' as account_name,
            coalesce(families.family_id, {{ relation }}.customer_id) as customer_id,
            {{ relation }}.metric_name,
            {{ no_text }} as invoice_id,
            {{ counted }} as signed_count
        from {{ relation }}
        left join families
            on {{ relation }}.customer_id = families.customer_id
        where {{ where }} and not {{ is_gauge | replace('(metric_name', '(' ~ relation ~ '.metric_name') }}
        group by coalesce(families.family_id, {{ relation }}.customer_id), {{ relation }}.metric_name
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}
    {% if gauge_names -%}
        union all
        select
            'gauge period event_count = levels held in it' as account_name,
            {{ no_text }} as customer_id,
            metric_name,
            invoice_id,
            count(*) as signed_count
        from gauge_levels_in_periods
        group by invoice_id, metric_name
        union all
        select
            'gauge period event_count = levels held in it' as account_name,
            {{ no_text }} as customer_id,
            metric_name,
            invoice_id,
            -sum(event_count) as signed_count
        from billed
        where {{ is_gauge }}
        group by invoice_id, metric_name
        union all
        select
            'gauge levels held in no priced period = unbilled' as account_name,
            customer_id,
            metric_name,
            {{ no_text }} as invoice_id,
            count(*) as signed_count
        from gauge_levels_in_no_period
        group by customer_id, metric_name
        union all
        select
            'gauge levels held in no priced period = unbilled' as account_name,
            customer_id,
            metric_name,
            {{ no_text }} as invoice_id,
            -sum(event_count) as signed_count
        from unbilled
        where {{ is_gauge }}
        group by customer_id, metric_name
    {%- endif %}

)

select
    account_name,
    customer_id,
    metric_name,
    invoice_id,
    sum(signed_count) as difference
from entries
group by account_name, customer_id, metric_name, invoice_id
having sum(signed_count) <> 0
