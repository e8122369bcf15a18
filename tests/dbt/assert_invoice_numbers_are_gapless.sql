-- Each issuer's invoice counters are exactly 1..N (with the unique (issuer_id,
-- invoice_sequence) test): a gap or a start other than 1 means a number was lost or skipped.
with invoice_numbers as (

    select * from {{ ref('usage_billing', 'usage_billing__invoice_numbers') }}

),

per_issuer as (

    select
        issuer_id,
        count(*) as numbered_count,
        min(invoice_sequence) as first_sequence,
        max(invoice_sequence) as last_sequence
    from invoice_numbers
    group by issuer_id

)

select * from per_issuer
where first_sequence <> 1 or last_sequence <> numbered_count
