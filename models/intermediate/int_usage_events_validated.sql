{#- Every raw event with its customer and, when it is not billed, the reason. Incremental: a
    run re-checks only the events that received rows no run has read (loaded since the last
    run, minus a lookback for stragglers) and the events rejected for an alias that now exists;
    each is checked against all its raw rows, so the last-loaded repeat wins however the rows
    arrived. -#}
{%- set metrics = usage_billing.metric_definitions() -%}
{%- set property_paths = usage_billing.event_property_paths(metrics) -%}
{#- An accepted event keeps its raw text (id, alias, timestamp as sent, JSON) only where a later
    model may read it: a metric's raw `where:` or `value:` SQL, or an engine that reads the
    properties from the JSON text. Else only rejects keep it, for usage_events_rejected: unique
    strings are the costliest part of writing this table. -#}
{%- set raw_sql_metrics = [] -%}
{%- for metric in metrics if not metric.get('from') and (metric.get('where') or metric.get('value')) -%}
    {%- do raw_sql_metrics.append(metric['name']) -%}
{%- endfor -%}
{%- set raw_text = '{}' if raw_sql_metrics or not usage_billing.reads_parsed_properties()
    else 'case when reasoned.rejection_reason is not null then {} end' -%}
{#- What later models read of an accepted event: a re-checked event whose billed version is equal
    in all of them is unchanged. -#}
{%- set compared_columns = ['event_id', 'customer_alias', 'customer_id', 'event_type',
    'event_timestamp_text', 'event_at', 'event_properties', 'parsed_properties'] -%}
{{ config(
    materialized=usage_billing.usage_materialization(),
    incremental_strategy='delete+insert',
    unique_key='event_key',
    pre_hook="{{ usage_billing.prepare_build_state('int_usage_events_validated') }}",
    post_hook="{{ usage_billing.record_build_state('int_usage_events_validated') }}",
) }}
{%- set incremental = usage_billing.builds_on_stored_rows('int_usage_events_validated') -%}
{{- usage_billing.log_build_mode('int_usage_events_validated') }}

with customer_aliases as (

    select * from {{ ref('stg_customer_aliases') }}

),

{% if incremental %}
    {%- set raw_id = var('usage_billing_column_event_id') -%}
    {%- set raw_loaded_at = var('usage_billing_column_loaded_at') %}
    last_run as (

        select
            {{ dbt.dateadd(
                'hour',
                -var('usage_billing_incremental_lookback_hours'),
                "coalesce(max(loaded_at), cast('1900-01-01' as " ~ dbt.type_timestamp() ~ "))",
            ) }} as reread_from
        from {{ this }}

    ),

    recent_raw as (

        -- The raw rows loaded since the last run, minus the lookback for stragglers committed
        -- late. Filtered on the load time alone, which the raw table's zone maps can skip by.
        select raw_events.*
        from {{ source('usage_billing', 'usage_events') }} as raw_events
        where raw_events.{{ raw_loaded_at }} > (select last_run.reread_from from last_run)

    ),

    recent_keyed as (

        {{ usage_billing.staged_usage_events('recent_raw') }}

    ),

    stored_recent as (

        -- How many rows of that window each event has stored: the rows earlier runs read.
        select
            previous.event_key,
            count(*) as stored_rows
        from {{ this }} as previous
        where previous.loaded_at > (select last_run.reread_from from last_run)
        group by previous.event_key

    ),

    keys_to_check as (

        -- The events with a row in the window that no run has read (it has more or fewer rows
        -- there than are stored), and those rejected only for an alias that now exists. A row
        -- the lookback reads again is not checked again.
        select recent_keyed.event_key
        from recent_keyed
        left join stored_recent
            on recent_keyed.event_key = stored_recent.event_key
        group by recent_keyed.event_key, stored_recent.stored_rows
        having count(*) <> coalesce(stored_recent.stored_rows, 0)

        union

        select previous.event_key
        from {{ this }} as previous
        inner join customer_aliases
            on previous.customer_alias = customer_aliases.customer_alias
        where previous.rejection_reason = 'unknown_customer'
        {%- set repointed = usage_billing.repointed_alias_customers() %}
        {%- if repointed %}

        union

        -- Events billed to a customer one of whose aliases now names another customer or none.
        select previous.event_key
        from {{ this }} as previous
        where previous.customer_id in (
            {%- for customer_id in repointed -%}
                {{ usage_billing.sql_literal(customer_id) }}{{ ', ' if not loop.last }}
            {%- endfor -%}
        )
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
        where
            stored_versions.loaded_at <= (select last_run.reread_from from last_run)
            or stored_versions.loaded_at is null
        group by stored_versions.event_key

    ),

    older_raw as (

        -- Their raw rows from before the window, so each event is checked against all its rows.
        -- Usually none: most of a run's events are new, and then the raw table is not scanned.
        select raw_events.*
        from {{ source('usage_billing', 'usage_events') }} as raw_events
        where
            cast(raw_events.{{ raw_id }} as {{ dbt.type_string() }})
            in (select keys_with_older_rows.event_key from keys_with_older_rows)
            and (
                raw_events.{{ raw_loaded_at }} <= (select last_run.reread_from from last_run)
                or raw_events.{{ raw_loaded_at }} is null
            )

    ),

    keyed_to_check as (

        select recent_keyed.*
        from recent_keyed
        where recent_keyed.event_key in (select keys_to_check.event_key from keys_to_check)

        union all

        {{ usage_billing.staged_usage_events('older_raw') }}

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

        select * from {{ ref('stg_usage_events') }}

    ),
{% endif %}

repeated_keys as (

    -- The keys with more than one raw row, a few percent: only their rows need ranking. By
    -- hash: a collision only sends a single row through the exact ranking, which ranks it 1.
    select {{ usage_billing.key_hash('event_key') }} as event_key_hash
    from keyed_to_check
    group by {{ usage_billing.key_hash('event_key') }}
    having count(*) > 1

),

-- Streamed on engines that would store it: read twice below, once per has_repeats.
keyed_and_flagged as {{ usage_billing.not_materialized() }} (

    select
        keyed_to_check.*,
        repeated_keys.event_key_hash is not null as has_repeats
    from keyed_to_check
    left join repeated_keys
        on {{ usage_billing.key_hash('keyed_to_check.event_key') }} = repeated_keys.event_key_hash

),

properties_checked as (

    select
        *,
        event_properties is null
        or {{ usage_billing.is_json_object('event_properties') }} as has_valid_properties
    from keyed_and_flagged

),

properties_parsed as (

    -- Every property the metrics read, parsed once (not once per metric and use); stored, so
    -- int_usage_events_matched_to_metrics reads them without parsing again.
    select
        *,
        case
            when has_valid_properties
                then {{ usage_billing.json_texts_parsed('event_properties', property_paths) }}
        end as parsed_properties
    from properties_checked

),

values_checked as (

    select
        *,
        -- Only well-formed properties are read; a malformed object is rejected on its own.
        case
            when has_valid_properties then {{ usage_billing.metric_values_are_valid(
                usage_billing.event_property_fields('parsed_properties', property_paths)
            ) }}
            else true
        end as has_valid_metric_values
    from properties_parsed

),

events_to_check as (

    select
        *,
        event_id is not null
        and customer_alias is not null
        and event_at is not null
        and has_valid_properties
        and has_valid_metric_values as is_well_formed
    from values_checked

),

ranked as (

    -- A repeat of an event_id supersedes the earlier row: the last loaded wins (or the first,
    -- by the var usage_billing_dedup_policy). Only well-formed rows compete, so a malformed
    -- resend never hides a good event. Split by has_repeats so the window sorts only the rows
    -- of repeated keys, not every wide raw row (the costliest step after the write, at 10 M).
    select
        *,
        case when is_well_formed then cast(1 as {{ dbt.type_bigint() }}) end as event_id_rank
    from events_to_check
    where not has_repeats

    union all

    select
        *,
        case
            when is_well_formed
                then row_number() over (
                    partition by event_key, is_well_formed
                    order by
                        loaded_at {{ usage_billing.dedup_order() }} nulls last,
                        event_at {{ usage_billing.dedup_order() }},
                        event_properties desc nulls last,
                        customer_alias desc,
                        event_type desc nulls last
                )
        end as event_id_rank
    from events_to_check
    where has_repeats

),

matched as (

    select
        ranked.*,
        customer_aliases.customer_id
    from ranked
    left join customer_aliases
        on ranked.customer_alias = customer_aliases.customer_alias

),

reasoned as (

    select
        *,
        -- The first failing check names the reason; null means the event is billed.
        case
            when event_id is null then 'missing_event_id'
            when customer_alias is null then 'missing_customer_alias'
            when event_timestamp_text is null then 'missing_timestamp'
            when event_at is null then 'bad_timestamp'
            when not has_valid_properties then 'bad_properties'
            when not has_valid_metric_values then 'bad_value'
            when event_id_rank > 1 then 'duplicate'
            when customer_id is null then 'unknown_customer'
        end as rejection_reason
    from matched

),

checked_versions as (

    select
        reasoned.event_key,
        {{ raw_text.format('reasoned.event_id') }} as event_id,
        {{ raw_text.format('reasoned.customer_alias') }} as customer_alias,
        reasoned.customer_id,
        reasoned.event_type,
        {{ raw_text.format('reasoned.event_timestamp_text') }} as event_timestamp_text,
        reasoned.event_at,
        {{ raw_text.format('reasoned.event_properties') }} as event_properties,
        -- The properties the metrics read, parsed here once for every later model.
        reasoned.parsed_properties,
        reasoned.loaded_at,
        reasoned.rejection_reason
    from reasoned

),

{% if incremental %}
    unchanged_keys as (

        -- Re-checked events billed as before (an identical repeat): their rows keep the earlier
        -- processed_at, so later models see no change and add nothing.
        select
            previous_versions.event_key,
            previous_versions.processed_at
        from checked_versions
        inner join previous_versions
            on checked_versions.event_key = previous_versions.event_key
        where
            checked_versions.rejection_reason is null
            {%- for column in compared_columns %}
                and (
                    checked_versions.{{ column }} = previous_versions.{{ column }}
                    or (checked_versions.{{ column }} is null and previous_versions.{{ column }} is null)
                )
            {%- endfor %}

    ),
{% endif %}

final as (

    select
        {%- for column in ['event_key', 'event_id', 'customer_alias', 'customer_id', 'event_type',
            'event_timestamp_text', 'event_at', 'event_properties', 'parsed_properties', 'loaded_at',
            'rejection_reason'] %}
            checked_versions.{{ column }},
        {%- endfor %}
        {% if incremental -%}
            case when unchanged_keys.event_key is null then previous_versions.customer_id end as replaced_customer_id,
            case when unchanged_keys.event_key is null then previous_versions.event_at end as replaced_event_at,
            coalesce(unchanged_keys.processed_at, {{ usage_billing.run_started_timestamp() }}) as processed_at
        {%- else -%}
            cast(null as {{ dbt.type_string() }}) as replaced_customer_id,
            cast(null as {{ dbt.type_timestamp() }}) as replaced_event_at,
            {{ usage_billing.run_started_timestamp() }} as processed_at
        {%- endif %}
    from checked_versions
    {% if incremental -%}
        left join previous_versions
            on checked_versions.event_key = previous_versions.event_key
        left join unchanged_keys
            on checked_versions.event_key = unchanged_keys.event_key
    {%- endif %}

)

select * from final
