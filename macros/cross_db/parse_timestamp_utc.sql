{#- A timestamp text (ISO 8601, with or without a UTC offset) as a UTC timestamp without time
    zone; null when it does not parse. Text without an offset is read as UTC. -#}
{% macro parse_timestamp_utc(timestamp_text) %}
    {{- return(adapter.dispatch('parse_timestamp_utc', 'usage_billing')(timestamp_text)) -}}
{% endmacro %}

{% macro default__parse_timestamp_utc(timestamp_text) -%}
    {{ dbt.safe_cast(timestamp_text, dbt.type_timestamp()) }}
{%- endmacro %}

{#- DuckDB's cast to timestamp drops an offset instead of applying it; timestamptz applies it
    (the profile pins the session zone to UTC for text without one). -#}
{% macro duckdb__parse_timestamp_utc(timestamp_text) -%}
    (try_cast({{ timestamp_text }} as timestamptz) at time zone 'UTC')
{%- endmacro %}

{% macro snowflake__parse_timestamp_utc(timestamp_text) -%}
    convert_timezone('UTC', try_to_timestamp_tz({{ timestamp_text }}))::timestamp_ntz
{%- endmacro %}

{% macro bigquery__parse_timestamp_utc(timestamp_text) -%}
    datetime(safe_cast({{ timestamp_text }} as timestamp), 'UTC')
{%- endmacro %}
