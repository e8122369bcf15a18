{#- Every accepted event (or relation row) and metric that no invoice counts, and every accepted
    event that counts toward no metric: the rows unbilled_usage classifies and sums up.
    "Counted" is int_usage_by_billing_period's rule, mirrored: a period of the event's customer
    that prices its metric holds its instant (a gauge's: holds its level before the billing
    clock, the next report ending it), and prices its group or has a default price, which pools
    every group without a price of its own; a group with neither is dropped there.
    The rule is the macro unbilled_events (unbilled_usage applies it to an incremental run's
    share of the events); this view applies it to all of them. Each event is read once, in two
    anti-joins an engine can hash: on customer and metric, and on the event key. -#}
{{ config(materialized='view') }}

-- Streamed where the engine would store it: read three times, with disjoint filters.
with matched as {{ usage_billing.not_materialized() }} (

    select * from {{ ref('usage_billing', 'usage_billing__int_usage_events_matched_to_metrics') }}

),

validated as (

    select * from {{ ref('usage_billing', 'usage_billing__int_usage_events_validated') }}

),

{{ usage_billing.unbilled_events('matched', 'validated') }}

select * from unbilled_events
