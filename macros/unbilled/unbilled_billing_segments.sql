{#- unbilled_usage's CTEs `billing_periods` and `segment_prices`: each customer's time cut at
    every boundary of any of their periods into segments that do not overlap (an instant joins
    one at most, however many subscriptions hold it), with each metric and group those periods
    price in each segment. The reasons of unbilled rows are read from them. -#}
{% macro unbilled_billing_segments() %}
    billing_periods as (

        select * from {{ ref('usage_billing', 'usage_billing__int_billing_periods') }}

    ),

    segment_starts as (

        -- Distinct by a select over union all: BigQuery has no plain union.
        select distinct
            customer_id,
            segment_start
        from (
            select
                customer_id,
                period_start as segment_start
            from billing_periods
            union all
            select
                customer_id,
                period_end as segment_start
            from billing_periods
        ) as boundaries

    ),

    segments as (

        -- Each customer's time cut at every boundary of any of their periods: the segments do not
        -- overlap, so an instant joins one at most, however many subscriptions hold it.
        select
            customer_id,
            segment_start,
            lead(segment_start) over (partition by customer_id order by segment_start) as segment_end
        from segment_starts

    ),

    segment_prices as (

        -- Each segment a period holds, with each metric and group those periods price in it (a
        -- row with no metric when they price none).
        select distinct
            segments.customer_id,
            segments.segment_start,
            segments.segment_end,
            priced.metric_name,
            priced.group_value,
            priced.is_default_price
        from segments
        inner join billing_periods
            on
                segments.customer_id = billing_periods.customer_id
                and segments.segment_start >= billing_periods.period_start
                and segments.segment_start < billing_periods.period_end
        left join {{ ref('usage_billing', 'usage_billing__int_priced_groups_by_billing_period') }} as priced
            on billing_periods.invoice_id = priced.invoice_id

    )
{% endmacro %}
