{#- The number of every final invoice (docs/invoices.md), assigned by the first build that saw
    it final and never changed; a threshold invoice (final when issued) by the build issuing it. Per issuer the counters run 1, 2, 3, … without gaps: a build
    numbers the final invoices not numbered yet after the issuer's greatest stored counter, in
    the order of their period end, then invoice id. Append-only with `full_refresh: false`, like
    closed_invoice_lines: `dbt build --full-refresh` keeps every number. The rows of a build go
    in with one insert, so a build stopped before it numbers nothing and the next one numbers
    those invoices. The number's text, issue date and due date are stored as assigned: a later
    prefix or payment-terms change applies to invoices numbered after it. BigQuery has no
    append strategy: a merge on invoice_id, which never matches, appends. -#}

{{ config(
    materialized='incremental',
    incremental_strategy=('merge' if target.type == 'bigquery' else 'append'),
    unique_key=('invoice_id' if target.type == 'bigquery' else none),
    full_refresh=false,
) }}

{%- if is_incremental() %}
    {{- usage_billing.check_numbered_invoices_exist(
        this, ref('usage_billing', 'usage_billing__int_billing_periods'),
        ref('usage_billing', 'usage_billing__threshold_invoice_lines'),
    ) }}
{%- endif %}

with billing_periods as (

    select * from {{ ref('usage_billing', 'usage_billing__int_billing_periods') }}

),

threshold_invoice_lines as (

    select * from {{ ref('usage_billing', 'usage_billing__threshold_invoice_lines') }}

),

customers as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_customers') }}

),

issuers as (

    select * from {{ ref('usage_billing', 'usage_billing__issuers') }}

),

numbered as (

    -- The invoices numbered by earlier builds (none on the first).
    {%- if is_incremental() %}
        select invoice_id, issuer_id, invoice_sequence from {{ this }}
    {%- else %}
        select
            cast(null as {{ dbt.type_string() }}) as invoice_id,
            cast(null as {{ dbt.type_string() }}) as issuer_id,
            cast(null as {{ dbt.type_bigint() }}) as invoice_sequence
        where 1 = 0
    {%- endif %}

),

last_sequences as (

    -- The greatest counter each issuer handed out so far (0 before its first invoice).
    select
        issuers.issuer_id,
        coalesce(max(numbered.invoice_sequence), 0) as last_sequence
    from issuers
    left join numbered
        on issuers.issuer_id = numbered.issuer_id
    group by issuers.issuer_id

),

documents as (

    -- Final period invoices, and threshold invoices (final when issued) with their period's.
    select
        invoice_id,
        customer_id,
        period_end,
        as_of_at
    from billing_periods
    where status = 'final'
    union all
    select distinct
        threshold_invoice_lines.invoice_id,
        billing_periods.customer_id,
        billing_periods.period_end,
        billing_periods.as_of_at
    from threshold_invoice_lines
    inner join billing_periods
        on threshold_invoice_lines.threshold_of_invoice_id = billing_periods.invoice_id

),

to_number as (

    -- Final invoices without a number, with their customer's seller and terms. A customer
    -- naming an unknown issuer gets none (and fails assert_customer_terms_are_valid).
    select
        documents.invoice_id,
        documents.period_end,
        documents.as_of_at,
        customers.issuer_id,
        customers.payment_terms_days
    from documents
    inner join customers
        on documents.customer_id = customers.customer_id
    left join numbered
        on documents.invoice_id = numbered.invoice_id
    where numbered.invoice_id is null

),

sequenced as (

    select
        to_number.invoice_id,
        to_number.issuer_id,
        issuers.invoice_number_prefix,
        issuers.invoice_number_digits,
        to_number.payment_terms_days,
        -- Invoices are dated in UTC, on the billing clock's day (var usage_billing_as_of, or now).
        cast(to_number.as_of_at as date) as issue_date,
        last_sequences.last_sequence + row_number() over (
            partition by to_number.issuer_id
            order by to_number.period_end, to_number.invoice_id
        ) as invoice_sequence
    from to_number
    inner join issuers
        on to_number.issuer_id = issuers.issuer_id
    inner join last_sequences
        on to_number.issuer_id = last_sequences.issuer_id

),

final as (

    select
        invoice_id,
        issuer_id,
        issue_date,
        payment_terms_days,
        cast(invoice_sequence as {{ dbt.type_bigint() }}) as invoice_sequence,
        cast({{ dbt.concat([
            'invoice_number_prefix',
            usage_billing.zero_padded('invoice_sequence', 'invoice_number_digits'),
        ]) }} as {{ dbt.type_string() }}) as invoice_number,
        cast({{ dbt.dateadd('day', 'payment_terms_days', 'issue_date') }} as date) as due_date,
        {{ usage_billing.run_started_timestamp() }} as numbered_at
    from sequenced

)

select * from final
