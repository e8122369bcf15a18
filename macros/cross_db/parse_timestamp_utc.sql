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

{#- PostgreSQL: dbt.safe_cast is a plain cast that raises on bad text, and a cast to timestamp
    drops an offset; a function created at run start (create_engine_functions) does both. -#}
{% macro postgres__parse_timestamp_utc(timestamp_text) -%}
    {{ adapter.quote(target.schema) }}.usage_billing_try_timestamp_utc({{ timestamp_text }})
{%- endmacro %}

{#- Redshift has no catching function: only ISO 8601 shapes are cast (an impossible date such as
    2024-02-30 still raises), and convert_timezone applies the offset. -#}
{% macro redshift__parse_timestamp_utc(timestamp_text) -%}
    case
        when {{ timestamp_text }} ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?)?([zZ]|[+-][0-9]{2}(:?[0-9]{2})?)?$'
            then convert_timezone('UTC', cast({{ timestamp_text }} as timestamptz))
    end
{%- endmacro %}

{#- Snowflake reads text without an offset in the session's zone (America/Los_Angeles unless
    set), so only text carrying an offset goes through timestamp_tz. Only ISO 8601 shapes reach
    try_cast: the emulator used in tests (fakesnow) turns other text into 1970-01-01. -#}
{% macro snowflake__parse_timestamp_utc(timestamp_text) -%}
    {%- set date_time = '[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?)?' -%}
    case
        when regexp_like({{ timestamp_text }}, '{{ date_time }}([zZ]|[+-][0-9]{2}(:?[0-9]{2})?)')
            then cast(convert_timezone('UTC', try_cast({{ timestamp_text }} as timestamp_tz)) as timestamp_ntz)
        when regexp_like({{ timestamp_text }}, '{{ date_time }}')
            then try_cast({{ timestamp_text }} as timestamp_ntz)
    end
{%- endmacro %}

{#- BigQuery reads text without an offset as UTC; safe_cast yields null on bad text. -#}
{% macro bigquery__parse_timestamp_utc(timestamp_text) -%}
    datetime(safe_cast({{ timestamp_text }} as timestamp), 'UTC')
{%- endmacro %}

{#- Spark: try_cast, as Databricks runs with ANSI casts that raise; the profile pins the session
    zone to UTC, in which Spark's timestamps are shown and truncated. -#}
{% macro spark__parse_timestamp_utc(timestamp_text) -%}
    try_cast({{ timestamp_text }} as timestamp)
{%- endmacro %}
