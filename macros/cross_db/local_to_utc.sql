{#- A wall-clock timestamp of the IANA time zone `time_zone` (a column or literal) as the UTC
    instant it names, a timestamp without time zone. On DuckDB and PostgreSQL a local time that does
    not exist (skipped by a daylight-saving change) is read with the offset before the change, one
    that happens twice with the offset after it (its second occurrence); other engines may resolve
    those rare midnights their own way. Either way both periods beside a boundary use the same
    instant, so no hour is lost or doubled. -#}
{% macro local_to_utc(local_timestamp, time_zone) %}
    {{- return(adapter.dispatch('local_to_utc', 'usage_billing')(local_timestamp, time_zone)) -}}
{% endmacro %}

{#- PostgreSQL and Redshift: AT TIME ZONE on a timestamp reads it as local time there. -#}
{% macro default__local_to_utc(local_timestamp, time_zone) -%}
    (({{ local_timestamp }} at time zone {{ time_zone }}) at time zone 'UTC')
{%- endmacro %}

{#- DuckDB (ICU): timezone(zone, timestamp) reads it as local time there, giving a timestamptz. -#}
{% macro duckdb__local_to_utc(local_timestamp, time_zone) -%}
    timezone('UTC', timezone({{ time_zone }}, {{ local_timestamp }}))
{%- endmacro %}

{% macro snowflake__local_to_utc(local_timestamp, time_zone) -%}
    convert_timezone({{ time_zone }}, 'UTC', {{ local_timestamp }})
{%- endmacro %}

{#- BigQuery: timestamp(datetime, zone) is the instant; datetime(instant, 'UTC') its UTC clock. -#}
{% macro bigquery__local_to_utc(local_timestamp, time_zone) -%}
    datetime(timestamp({{ local_timestamp }}, {{ time_zone }}), 'UTC')
{%- endmacro %}

{#- Spark and Databricks: to_utc_timestamp reads a timestamp as local time in the zone. -#}
{% macro spark__local_to_utc(local_timestamp, time_zone) -%}
    to_utc_timestamp({{ local_timestamp }}, {{ time_zone }})
{%- endmacro %}
