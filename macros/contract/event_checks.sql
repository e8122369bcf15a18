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
