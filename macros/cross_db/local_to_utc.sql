{#- A wall-clock timestamp of the IANA time zone `time_zone` (a column or literal) as the UTC
    instant it names, a timestamp without time zone. On DuckDB and PostgreSQL a local time that does
    not exist (skipped by a daylight-saving change) is read with the offset before the change, one
    that happens twice with the offset after it (its second occurrence), and on Spark too (below);
    Snowflake and BigQuery may resolve those rare midnights their own way (untested). Either way
    both periods beside a boundary use the same instant, so no hour is lost or doubled. -#}
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

{#- Spark and Databricks: to_utc_timestamp reads a timestamp as local time in the zone, as
    Java does: a skipped time with the offset before the change (as DuckDB), but a time that
    happens twice at its first occurrence. The second is the same time read 3 hours later (past
    any overlap, so with the offset after the change) less 3 hours; it is taken when it reads
    back as the same local time and differs from the first, i.e. the time happens twice. -#}
{% macro spark__local_to_utc(local_timestamp, time_zone) -%}
    {%- set first = 'to_utc_timestamp(' ~ local_timestamp ~ ', ' ~ time_zone ~ ')' -%}
    {%- set second = 'to_utc_timestamp(' ~ local_timestamp ~ ' + interval 3 hours, ' ~ time_zone
        ~ ') - interval 3 hours' -%}
    case
        when from_utc_timestamp({{ second }}, {{ time_zone }}) = {{ local_timestamp }}
            and {{ second }} <> {{ first }}
            then {{ second }}
        else {{ first }}
    end
{%- endmacro %}
