{#- The lines of every threshold invoice, frozen by the build that issued it (docs/usage-controls.md,
    "Threshold billing"): the live period's lines as that build priced them (usage to its
    clock, less earlier threshold invoices' netting, with their tax), under the threshold
    invoice's id `<invoice_id>/t<n>`. An issued invoice is sent and never changes: append-only
    with `full_refresh: false`, like closed_invoice_lines, so `dbt build --full-refresh` keeps
    it; dropping it by hand would bill the period's early invoices again. BigQuery has no
    append strategy: a merge on the line key, which never matches, appends. -#}

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

due as (

    select * from {{ ref('usage_billing', 'usage_billing__int_threshold_invoices_due') }}

),

final as (

    select
        {{ dbt.concat([
            'due.invoice_id', "'#'", 'cast(computed_lines.line_number as ' ~ dbt.type_string() ~ ')',
        ]) }} as invoice_line_id,
        due.invoice_id,
        {%- for name, type in usage_billing.invoice_line_columns() if name not in ('invoice_line_id', 'invoice_id') %}
            computed_lines.{{ name }},
        {%- endfor %}
        due.threshold_of_invoice_id,
        due.threshold_sequence,
        due.threshold_billing_amount,
        {{ usage_billing.run_started_timestamp() }} as issued_at
    from computed_lines
    inner join due
        on computed_lines.invoice_id = due.threshold_of_invoice_id

)

select * from final
