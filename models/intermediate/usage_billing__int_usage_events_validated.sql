{#- Every raw event with its customer and, when it is not billed, the reason: the checks.
    Which events a run checks is validated_events_to_check (macros/incremental/: a delta run
    re-checks only the events that received rows no run has read, and a few more); how repeats
    are ranked fast is macros/cross_db/repeated_keys.sql. -#}
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
    pre_hook="{{ usage_billing.prepare_build_state('usage_billing__int_usage_events_validated') }}",
    post_hook="{{ usage_billing.record_build_state('usage_billing__int_usage_events_validated') }}",
) }}
{#- Spark's own tables replace rows by partition (macros/incremental/spark_partitions.sql). -#}
{%- if target.type == 'spark' %}{{ config(partition_by='processed_at', file_format='parquet') }}{% endif %}
{%- set incremental = usage_billing.builds_on_stored_rows('usage_billing__int_usage_events_validated') -%}
{{- usage_billing.log_build_mode('usage_billing__int_usage_events_validated') }}

with customer_aliases as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_customer_aliases') }}

),

{{ usage_billing.validated_events_to_check(incremental, compared_columns) }}

{{ usage_billing.flag_repeated_keys('keyed_to_check', 'event_key') }},

properties_checked as (

    select
        *,
        event_properties is null
        or {{ usage_billing.event_properties_are_valid('event_properties') }} as has_valid_properties
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
        -- The reason the event contract refuses the row on its own (docs/events.md), if any.
        case {{ usage_billing.event_contract_reasons() }}
        end as contract_reason
    from values_checked

),

matched as (

    select
        events_to_check.*,
        events_to_check.contract_reason is null and events_to_check.has_valid_metric_values as is_well_formed,
        customer_aliases.customer_id,
        {{ usage_billing.dedup_scope(
            'customer_aliases.customer_id', 'events_to_check.customer_alias'
        ) }} as dedup_scope
    from events_to_check
    left join customer_aliases
        on events_to_check.customer_alias = customer_aliases.customer_alias

),

-- A repeat of an event (its event_id, and by default its customer: dedup_scope) supersedes the
-- earlier row: the last loaded wins (or the first, by the var usage_billing_dedup_policy). Only
-- well-formed rows compete, so a malformed resend never hides a good event.
ranked as (

    {{ usage_billing.rank_repeated_keys(
        'matched', 'event_id_rank', 'is_well_formed', 'event_key, dedup_scope, is_well_formed', [
            'loaded_at ' ~ usage_billing.dedup_order() ~ ' nulls last',
            'event_at ' ~ usage_billing.dedup_order(),
            'event_properties desc nulls last',
            'customer_alias desc',
            'event_type desc nulls last',
        ],
    ) }}

),

reasoned as (

    select
        *,
        -- The first failing check names the reason; null means the event is billed.
        case
            when contract_reason is not null then contract_reason
            when not has_valid_metric_values then 'bad_value'
            when event_id_rank > 1 then 'duplicate'
            when customer_id is null then 'unknown_customer'
        end as rejection_reason
    from ranked

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
        reasoned.rejection_reason,
        reasoned.dedup_scope
    from reasoned

),

{% if incremental %}
    {{ usage_billing.validated_version_changes(compared_columns) }}
{% endif %}

final as (

    select
        {%- for column in ['event_key', 'event_id', 'customer_alias', 'customer_id', 'event_type',
            'event_timestamp_text', 'event_at', 'event_properties', 'parsed_properties', 'loaded_at',
            'rejection_reason'] %}
            checked_versions.{{ column }},
        {%- endfor %}
        {% if incremental -%}
            replacements.replaced_customer_id,
            replacements.replaced_event_at,
            coalesce(unchanged_keys.processed_at, {{ usage_billing.run_started_timestamp() }}) as processed_at
        {%- else -%}
            cast(null as {{ dbt.type_string() }}) as replaced_customer_id,
            cast(null as {{ dbt.type_timestamp() }}) as replaced_event_at,
            {{ usage_billing.run_started_timestamp() }} as processed_at
        {%- endif %}
    from {{ 'numbered_versions' if incremental else 'checked_versions' }} as checked_versions
    {% if incremental -%}
        left join unchanged_keys
            on checked_versions.event_key = unchanged_keys.event_key
        left join replacements
            on
                checked_versions.event_key = replacements.event_key
                and checked_versions.number_in_key = replacements.number_in_key
    {%- endif %}

)

select * from final
