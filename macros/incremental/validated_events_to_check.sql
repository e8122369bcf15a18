{#- int_usage_events_validated's incremental bookkeeping: which events a run checks. CTEs,
    written where the model's `with` list needs them, ending in `keyed_to_check` (the raw rows
    to check, staged and keyed) and, on a delta run, `previous_versions` (the version of each
    that was billed until now, as later models read it). They read the model's CTE
    `customer_aliases` and its stored rows.
    A full build checks every raw row. A delta run re-checks only the events that received rows
    no run has read (loaded since the last run, minus a lookback for stragglers; rows stamped
    before that, when counting shows some: rows_loaded_before_window.sql), the events
    rejected for an alias that now exists and those of customers whose alias was re-pointed;
    each against all its raw rows, so the last-loaded repeat wins however the rows arrived. -#}
{% macro validated_events_to_check(incremental, compared_columns) %}
{% if incremental %}
    {%- set raw_id = usage_billing.raw_event_column('event_id') -%}
    {%- set raw_loaded_at = usage_billing.raw_event_column('loaded_at') -%}
    {%- set sweep = usage_billing.raw_rows_loaded_before_window() != 0 %}
    last_run as (

        {{ usage_billing.validated_reread_from() }}

    ),

    {{ usage_billing.rows_unread_by_key('recent', usage_billing.loaded_in_window) }}
    {%- if sweep %}
    {{ usage_billing.rows_unread_by_key('before_window', usage_billing.loaded_before_window, streamed=true) }}
    {%- endif %}

    keys_to_check as (

        -- The events with a row in the window that no run has read (it has more or fewer rows
        -- there than are stored), and those rejected only for an alias that now exists. A row
        -- the lookback reads again is not checked again.
        select recent_unread_keys.event_key
        from recent_unread_keys

        {{ usage_billing.union_distinct() }}

        select previous.event_key
        from {{ this }} as previous
        inner join customer_aliases
            on previous.customer_alias = customer_aliases.customer_alias
        where previous.rejection_reason = 'unknown_customer'
        {%- set repointed = usage_billing.repointed_alias_customers() %}
        {%- if repointed %}

        {{ usage_billing.union_distinct() }}

        -- Events billed to a customer one of whose aliases now names another customer or none.
        select previous.event_key
        from {{ this }} as previous
        where previous.customer_id in (
            {%- for customer_id in repointed -%}
                {{ usage_billing.sql_literal(customer_id) }}{{ ', ' if not loop.last }}
            {%- endfor -%}
        )
        {%- endif %}
        {%- if sweep %}

        {{ usage_billing.union_distinct() }}

        -- And those with a row stamped before the window that no run has read.
        select before_window_unread_keys.event_key
        from before_window_unread_keys
        {%- endif %}

    ),

    stored_versions as (

        -- The stored rows of those events: the version billed until now, and whether the event
        -- has rows from before the window. One scan of the stored keys finds them.
        select
            previous.event_key,
            {%- for column in compared_columns %}
                previous.{{ column }},
            {%- endfor %}
            previous.loaded_at,
            previous.rejection_reason,
            previous.processed_at
        from {{ this }} as previous
        where {{ usage_billing.key_in_table(
            this, 'previous', 'event_key', 'select keys_to_check.event_key from keys_to_check'
        ) }}

    ),

    keys_with_older_rows as (

        select stored_versions.event_key
        from stored_versions
        where {{ usage_billing.loaded_before_window('stored_versions.loaded_at') }}
        group by stored_versions.event_key
        {%- if sweep %}

        {{ usage_billing.union_distinct() }}

        select before_window_unread_keys.event_key
        from before_window_unread_keys
        {%- endif %}

    ),
    {%- if not sweep %}

    older_raw as (

        -- Their raw rows from before the window, so each event is checked against all its rows.
        -- Usually none: most of a run's events are new, and then the raw table is not scanned.
        select raw_events.*
        from {{ source('usage_billing', 'usage_events') }} as raw_events
        where
            cast(raw_events.{{ raw_id }} as {{ dbt.type_string() }})
            in (select keys_with_older_rows.event_key from keys_with_older_rows)
            and {{ usage_billing.loaded_before_window('raw_events.' ~ raw_loaded_at) }}

    ),
    {%- endif %}

    keyed_to_check as (

        select recent_keyed.*
        from recent_keyed
        where recent_keyed.event_key in (select keys_to_check.event_key from keys_to_check)

        union all

        {% if sweep -%}
            select before_window_keyed.*
            from before_window_keyed
            where before_window_keyed.event_key in (select keys_with_older_rows.event_key from keys_with_older_rows)
        {%- else -%}
            {{ usage_billing.staged_usage_events('older_raw') }}
        {%- endif %}

    ),

    previous_versions as (

        -- The version billed until now, as later models read it: where it changed, they also
        -- recompute where it used to count.
        select stored_versions.*
        from stored_versions
        where stored_versions.rejection_reason is null

    ),
{% else %}
    -- Streamed where the engine would store it: a full build reads it in the count of repeats
    -- and in both branches below. Stored, every wide raw row spilled at 100 M events; scanning
    -- the raw table again costs less than writing and re-reading them (this statement at
    -- 100 M: 315 s stored, 179 to 189 s streamed).
    keyed_to_check as {{ usage_billing.not_materialized() }} (

        select * from {{ ref('usage_billing', 'usage_billing__stg_usage_events') }}

    ),
{% endif %}
{%- endmacro %}

{#- CTEs over the raw rows and the stored rows whose load time `loaded` (a macro taking a column:
    loaded_in_window, loaded_before_window) holds: `<name>_raw`, `<name>_keyed` (staged, streamed
    when `streamed`), `<name>_stored` (how many rows of there each event has stored: the rows
    earlier runs read) and `<name>_unread_keys`, the events with a row there that no run has
    read (they have more or fewer rows there than are stored). A row read again is not checked
    again. -#}
{% macro rows_unread_by_key(name, loaded, streamed=false) %}
    {%- set raw_loaded_at = usage_billing.raw_event_column('loaded_at') %}
    {{ name }}_raw as (

        -- Filtered on the load time alone, which the raw table's zone maps can skip by.
        select raw_events.*
        from {{ source('usage_billing', 'usage_events') }} as raw_events
        where {{ loaded('raw_events.' ~ raw_loaded_at) }}

    ),

    {{ name }}_keyed as {{ usage_billing.not_materialized() if streamed }} (

        {{ usage_billing.staged_usage_events(name ~ '_raw') }}

    ),

    {{ name }}_stored as (

        select
            previous.event_key,
            count(*) as stored_rows
        from {{ this }} as previous
        where {{ loaded('previous.loaded_at') }}
        group by previous.event_key

    ),

    {{ name }}_unread_keys as (

        select {{ name }}_keyed.event_key
        from {{ name }}_keyed
        left join {{ name }}_stored
            on {{ name }}_keyed.event_key = {{ name }}_stored.event_key
        group by {{ name }}_keyed.event_key, {{ name }}_stored.stored_rows
        having count(*) <> coalesce({{ name }}_stored.stored_rows, 0)

    ),
{%- endmacro %}

{#- Delta runs: how the re-checked rows relate to the versions billed until now, as CTEs that
    read the model's `checked_versions` and `previous_versions`. An event is its event_id and
    dedup_scope (by default several customers may bill one id); a version continues when the
    re-check bills the same event again. `unchanged_keys`: event_ids whose every billed version
    is as before in what later models read (an identical repeat): their rows keep the earlier
    processed_at, so later models see no change. `replacements`: for the rows of the other
    event_ids, where the replaced versions used to count (a continued version's own, and each
    version that goes, on a row of its id that continues none). -#}
{% macro validated_version_changes(compared_columns) %}
    numbered_versions as (

        -- Each re-checked row numbered within its event_id: billed rows first, each alone in
        -- its place (one per scope), so the numbers pair rows below however ties fall.
        select
            checked_versions.*,
            row_number() over (
                partition by checked_versions.event_key
                order by
                    checked_versions.rejection_reason nulls first,
                    checked_versions.dedup_scope,
                    checked_versions.loaded_at,
                    checked_versions.event_at
            ) as number_in_key
        from checked_versions

    ),

    scoped_previous_versions as (

        select
            previous_versions.*,
            {{ usage_billing.dedup_scope('previous_versions.customer_id', 'previous_versions.customer_alias') }} as dedup_scope
        from previous_versions

    ),

    continued_versions as (

        select
            numbered_versions.event_key,
            numbered_versions.number_in_key,
            scoped_previous_versions.dedup_scope,
            scoped_previous_versions.customer_id as replaced_customer_id,
            scoped_previous_versions.event_at as replaced_event_at,
            {%- for column in compared_columns %}
                (
                    numbered_versions.{{ column }} = scoped_previous_versions.{{ column }}
                    or (numbered_versions.{{ column }} is null and scoped_previous_versions.{{ column }} is null)
                ) and
            {%- endfor %}
            true as is_unchanged
        from numbered_versions
        inner join scoped_previous_versions
            on
                numbered_versions.event_key = scoped_previous_versions.event_key
                and numbered_versions.dedup_scope = scoped_previous_versions.dedup_scope
        where numbered_versions.rejection_reason is null

    ),

    version_counts as (

        select event_key, count(*) as checked_count, 0 as previous_count, 0 as unchanged_count,
            cast(null as {{ dbt.type_timestamp() }}) as processed_at
        from numbered_versions
        where rejection_reason is null
        group by event_key
        union all
        select event_key, 0, count(*), 0, max(processed_at)
        from scoped_previous_versions
        group by event_key
        union all
        select event_key, 0, 0, count(*), cast(null as {{ dbt.type_timestamp() }})
        from continued_versions
        where is_unchanged
        group by event_key

    ),

    unchanged_keys as (

        -- All of an event_id's billed versions continue as before: its rows keep the time of
        -- the run that last changed it (the same for all its billed rows).
        select
            event_key,
            max(processed_at) as processed_at
        from version_counts
        group by event_key
        having
            sum(checked_count) = sum(unchanged_count)
            and sum(previous_count) = sum(unchanged_count)

    ),

    gone_versions as (

        -- Versions billed until now that no re-checked version continues: the event is
        -- rejected now, or billed under another scope (an alias re-pointed).
        select
            scoped_previous_versions.event_key,
            scoped_previous_versions.customer_id,
            scoped_previous_versions.event_at,
            row_number() over (
                partition by scoped_previous_versions.event_key
                order by scoped_previous_versions.dedup_scope
            ) as pair_number
        from scoped_previous_versions
        left join continued_versions
            on
                scoped_previous_versions.event_key = continued_versions.event_key
                and scoped_previous_versions.dedup_scope = continued_versions.dedup_scope
        where continued_versions.event_key is null

    ),

    carrier_rows as (

        -- The re-checked rows that continue no version: at least as many as the versions that
        -- go, as each of those came from a raw row that is re-checked too.
        select
            numbered_versions.event_key,
            numbered_versions.number_in_key,
            row_number() over (
                partition by numbered_versions.event_key
                order by numbered_versions.number_in_key
            ) as pair_number
        from numbered_versions
        left join continued_versions
            on
                numbered_versions.event_key = continued_versions.event_key
                and numbered_versions.number_in_key = continued_versions.number_in_key
        where continued_versions.event_key is null

    ),

    replacements as (

        select
            continued_versions.event_key,
            continued_versions.number_in_key,
            continued_versions.replaced_customer_id,
            continued_versions.replaced_event_at
        from continued_versions
        left join unchanged_keys
            on continued_versions.event_key = unchanged_keys.event_key
        where unchanged_keys.event_key is null
        union all
        select
            carrier_rows.event_key,
            carrier_rows.number_in_key,
            gone_versions.customer_id,
            gone_versions.event_at
        from carrier_rows
        inner join gone_versions
            on
                carrier_rows.event_key = gone_versions.event_key
                and carrier_rows.pair_number = gone_versions.pair_number

    ),
{%- endmacro %}
