{#- The window of raw rows an incremental run of int_usage_events_validated reads: those loaded
    after the newest load time it has stored, minus the lookback for stragglers committed late.
    Written as the select of its CTE `last_run`. -#}
{% macro validated_reread_from() %}
        select
            {{ dbt.dateadd(
                'hour',
                -var('usage_billing_incremental_lookback_hours'),
                "coalesce(max(loaded_at), cast('1900-01-01' as " ~ dbt.type_timestamp() ~ "))",
            ) }} as reread_from
        from {{ this }}
{%- endmacro %}

{#- `column` (a load time) is in that window: the rows a run reads. -#}
{% macro loaded_in_window(column) -%}
    {{ column }} > (select last_run.reread_from from last_run)
{%- endmacro %}

{#- `column` (a load time) is before that window, or missing: such rows are read only by a sweep. -#}
{% macro loaded_before_window(column) -%}
    ({{ column }} <= (select last_run.reread_from from last_run) or {{ column }} is null)
{%- endmacro %}

{#- How many raw rows from before the window no run has read: rows committed with an old or no
    `loaded_at` after the run that passed it (a re-load of an old file, a backfill). The model
    stores one row per raw row it read and the raw table is append-only, so the raw table
    holding more rows from there than are stored means some came late. Two counts on each run;
    only when they differ does the run sweep (scan) the raw rows from before the window for
    the events they belong to, and it says so in dbt's log. -#}
{% macro raw_rows_loaded_before_window() %}
    {%- if not execute -%}
        {{ return(0) }}
    {%- endif -%}
    {%- set raw_loaded_at = usage_billing.raw_event_column('loaded_at') -%}
    {%- set counts = run_query(
        'with last_run as (' ~ usage_billing.validated_reread_from() ~ ') select'
        ~ ' (select count(*) from ' ~ source('usage_billing', 'usage_events') ~ ' as raw_events where '
        ~ usage_billing.loaded_before_window('raw_events.' ~ raw_loaded_at) ~ ')'
        ~ ' - (select count(*) from ' ~ this ~ ' as previous where '
        ~ usage_billing.loaded_before_window('previous.loaded_at') ~ ') as unread_rows'
    ) -%}
    {%- set unread = counts.columns[0].values()[0] | int -%}
    {%- if unread != 0 -%}
        {{ log('usage_billing__int_usage_events_validated: ' ~ unread ~ ' raw rows were committed with a'
            ~ ' loaded_at before the window this run reads (the newest stored minus'
            ~ ' usage_billing_incremental_lookback_hours); checking their events against all their'
            ~ ' rows (a scan of the raw table).', info=true) }}
    {%- endif -%}
    {{ return(unread) }}
{% endmacro %}
