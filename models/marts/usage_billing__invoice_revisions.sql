{#- Every revision of every invoice: the snapshot's rows, or on Spark's own tables, which have no
    snapshots, the revision log's (the same rows, appended by each build). -#}
with snapshots as (

    {% if target.type == 'spark' -%}
        select
            invoice_id,
            content_hash,
            currency,
            status,
            total,
            revised_at as dbt_valid_from,
            lead(revised_at) over (partition by invoice_id order by revised_at) as dbt_valid_to
        from {{ ref('usage_billing', 'usage_billing__invoice_revision_log') }}
    {%- else -%}
        select * from {{ ref('usage_billing', 'usage_billing__invoices_snapshot') }}
    {%- endif %}

),

final as (

    select
        {{ dbt.concat([
            'invoice_id',
            "'@'",
            'cast(row_number() over (partition by invoice_id order by dbt_valid_from) as ' ~ dbt.type_string() ~ ')',
        ]) }} as invoice_revision_id,
        invoice_id,
        row_number() over (partition by invoice_id order by dbt_valid_from) as revision_number,
        content_hash,
        currency,
        status,
        total,
        lag(total) over (partition by invoice_id order by dbt_valid_from) as previous_total,
        total - coalesce(lag(total) over (partition by invoice_id order by dbt_valid_from), 0) as total_delta,
        lag(content_hash) over (partition by invoice_id order by dbt_valid_from) as previous_content_hash,
        dbt_valid_from as revised_at,
        dbt_valid_to is null as is_current
    from snapshots

)

select * from final
