-- Nothing is silently dropped: accepted events plus rejected events account for every raw row.
with raw_rows as (

    select count(*) as row_count from {{ source('usage_billing', 'usage_events') }}

),

accepted as (

    select count(*) as row_count
    from {{ ref('usage_billing', 'usage_billing__int_usage_events_validated') }}
    where rejection_reason is null

),

rejected as (

    select count(*) as row_count from {{ ref('usage_billing', 'usage_billing__usage_events_rejected') }}

)

select
    raw_rows.row_count as raw_count,
    accepted.row_count as accepted_count,
    rejected.row_count as rejected_count
from raw_rows
cross join accepted
cross join rejected
where raw_rows.row_count <> accepted.row_count + rejected.row_count
