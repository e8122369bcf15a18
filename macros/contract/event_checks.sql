{#- The event contract's checks in SQL (docs/events.md). The rules and their constants are
    written once, in usage_billing/events/contract.py, which generates event_contract(); the
    corpus test holds these checks to the Python ones event by event. -#}

{#- The reasons an event alone decides, as `when ... then 'reason'` branches in the contract's
    order, over columns named as in stg_usage_events (`event_at` parsed by
    event_timestamp_utc, `has_valid_properties` from event_properties_are_valid). -#}
{% macro event_contract_reasons() %}
    {%- set contract = usage_billing.event_contract() -%}
    {%- for field in ['event_id', 'customer_alias', 'event_type'] %}
        when {{ usage_billing.is_blank_text(field) }} then 'missing_{{ field }}'
        when {{ usage_billing.matches_pattern(field, contract['control_characters']) }} then 'bad_{{ field }}'
    {%- endfor %}
        when {{ usage_billing.is_blank_text('event_timestamp_text') }} then 'missing_timestamp'
        when event_at is null then 'bad_timestamp'
        when not {{ usage_billing.event_at_in_range('event_at') }} then 'timestamp_out_of_range'
        when not has_valid_properties then 'bad_properties'
{%- endmacro %}

{#- Null, empty or spaces only (a tab or a line break is a control character instead; an engine's
    trim() may also take other blanks, such as DuckDB's the no-break space). -#}
{% macro is_blank_text(column) -%}
    ({{ column }} is null or {{ column }} = ''
        or ({{ column }} like ' %' and {{ usage_billing.matches_pattern(column, '^ *$') }}))
{%- endmacro %}

{#- The UTC timestamp of an event_timestamp text, null unless its form is one the contract
    accepts (each engine's cast takes more: week dates, 24:00, spaces around it). -#}
{% macro event_timestamp_utc(timestamp_text) -%}
    case
        when {{ usage_billing.matches_pattern(timestamp_text, usage_billing.event_contract()['timestamp_pattern']) }}
            then {{ usage_billing.parse_timestamp_utc(timestamp_text) }}
    end
{%- endmacro %}

{% macro event_at_in_range(event_at) %}
    {{- return(adapter.dispatch('event_at_in_range', 'usage_billing')(event_at)) -}}
{% endmacro %}

{% macro default__event_at_in_range(event_at) -%}
    {%- set contract = usage_billing.event_contract() -%}
    ({{ event_at }} >= cast('{{ contract['earliest_event_at'] }}' as {{ dbt.type_timestamp() }})
        and {{ event_at }} < cast('{{ contract['latest_event_at'] }}' as {{ dbt.type_timestamp() }}))
{%- endmacro %}

{#- BigQuery's event_at is a DATETIME (parse_timestamp_utc), which a TIMESTAMP cannot be
    compared with. -#}
{% macro bigquery__event_at_in_range(event_at) -%}
    {%- set contract = usage_billing.event_contract() -%}
    ({{ event_at }} >= datetime '{{ contract['earliest_event_at'] }}'
        and {{ event_at }} < datetime '{{ contract['latest_event_at'] }}')
{%- endmacro %}

{#- True when the text is a JSON object by the contract. Elsewhere the engine's parser decides
    (PostgreSQL's, like RFC 8259, refuses NaN, trailing commas and a NUL escape); the nesting
    depth is checked on DuckDB only (docs/engines.md). -#}
{% macro event_properties_are_valid(json_text) %}
    {{- return(adapter.dispatch('event_properties_are_valid', 'usage_billing')(json_text)) -}}
{% endmacro %}

{% macro default__event_properties_are_valid(json_text) -%}
    {{ usage_billing.is_json_object(json_text) }}
{%- endmacro %}

{#- DuckDB's parser also takes NaN, Infinity and trailing commas, and a NUL escape, which are
    refused here. The costly checks run only on the text a cheap test picks out, inside `case`,
    which DuckDB evaluates lazily (`and` is not lazy), as the CSV loader's
    (usage_billing/events/contract_sql.py). -#}
{% macro duckdb__event_properties_are_valid(json_text) -%}
    {%- set contract = usage_billing.event_contract() -%}
    {%- set depth = contract['max_properties_depth'] -%}
    {%- set between_strings = "regexp_replace(" ~ json_text ~ ", " ~ usage_billing.string_literal(contract['json_string']) ~ ", '\"\"', 'g')" -%}
    {%- set brackets = "regexp_replace(" ~ between_strings ~ ", '[^][{}]', '', 'g')" -%}
    ({{ usage_billing.is_json_object(json_text) }}
        {#- NaN and Infinity in any case hold 'nan' or 'inf'; a trailing comma, a comma then a bracket. #}
        and case
            when {{ json_text }} ilike '%nan%' or {{ json_text }} ilike '%inf%'
                or regexp_matches({{ json_text }}, ',[ \t\r\n]*[]}]')
                then not regexp_matches({{ between_strings }}, {{ usage_billing.string_literal(contract['non_standard_json']) }})
            else true
        end
        and case
            when contains({{ json_text }}, '\u0000')
                then not regexp_matches({{ json_text }}, {{ usage_billing.string_literal(contract['nul_escape']) }})
            else true
        end
        and case
            when length({{ json_text }}) - length(replace(replace({{ json_text }}, '{', ''), '[', '')) > {{ depth }}
                then regexp_matches({{ brackets }}, {{ usage_billing.string_literal(contract['brackets_within_depth']) }})
            else true
        end)
{%- endmacro %}
