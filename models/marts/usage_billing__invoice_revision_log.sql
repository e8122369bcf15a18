{#- Spark's own tables only (parquet: no merge, so no dbt snapshot there): each build appends the
    invoices whose content_hash differs from the last one logged for them, which are the rows
    the snapshot (check strategy on content_hash) opens elsewhere. Append-only and never rebuilt
    (full_refresh=false): --full-refresh must not lose the history, as it does not a snapshot's.
    usage_billing__invoice_revisions reads it on Spark. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    file_format='parquet',
    full_refresh=false,
) }}

with invoices as (

    select
        invoice_id,
        content_hash,
        currency,
        status,
        total
    from {{ ref('usage_billing', 'usage_billing__invoices') }}

),

{% if is_incremental() %}
    logged as (

        select
            invoice_id,
            content_hash,
            row_number() over (partition by invoice_id order by revised_at desc) as recency
        from {{ this }}

    ),
{% endif %}

final as (

    select
        invoices.invoice_id,
        invoices.content_hash,
        invoices.currency,
        invoices.status,
        invoices.total,
        {{ usage_billing.run_started_timestamp() }} as revised_at
    from invoices
    {% if is_incremental() -%}
        left join logged
            on invoices.invoice_id = logged.invoice_id and logged.recency = 1
        where logged.invoice_id is null or not (logged.content_hash <=> invoices.content_hash)
    {%- endif %}

)

select * from final
