{#- The lines of every closed invoice, frozen at the first build that saw it closed
    (docs/closing-periods.md). Append-only: a build adds the lines of invoices closed since the
    last one and never changes a row. `full_refresh: false`, so `dbt build --full-refresh`
    keeps it; dropping the table by hand unfreezes every invoice (the next build freezes them
    again as they are then). A line column added by a later release is appended to the table
    (on_schema_change), null on the rows frozen before it. BigQuery has no append strategy: a merge on the line key, which
    never matches (only invoices not frozen yet are added), appends. -#}

{{ config(
    materialized='incremental',
    incremental_strategy=('merge' if target.type == 'bigquery' else 'append'),
    unique_key=('invoice_line_id' if target.type == 'bigquery' else none),
    full_refresh=false,
    on_schema_change='append_new_columns',
) }}

with computed_lines as (

    select * from {{ ref('usage_billing', 'usage_billing__int_invoice_lines_computed') }}

),

closures as (

    select * from {{ ref('usage_billing', 'usage_billing__int_invoice_closures') }}

),

newly_closed as (

    -- Closed (final, covered by closed_periods) and not frozen by an earlier build.
    select
        closures.invoice_id,
        closures.closed_through,
        closures.closed_at
    from closures
    {%- if is_incremental() %}
        left join (select distinct invoice_id from {{ this }}) as frozen
            on closures.invoice_id = frozen.invoice_id
    {%- endif %}
    where
        closures.is_closed
        and not closures.is_frozen
        {%- if is_incremental() %}
            and frozen.invoice_id is null
        {%- endif %}
        -- amend_closed revises closed invoices: closing is only a marker, nothing is frozen.
        and {{ 'true' if usage_billing.late_usage_policy() == 'next_open_period' else 'false' }}

),

final as (

    select
        {{ usage_billing.invoice_line_select('computed_lines') }},
        newly_closed.closed_through,
        newly_closed.closed_at,
        {{ usage_billing.run_started_timestamp() }} as frozen_at
    from computed_lines
    inner join newly_closed
        on computed_lines.invoice_id = newly_closed.invoice_id

)

select * from final
