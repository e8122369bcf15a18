{#- Now, as a timestamp without time zone in UTC, whatever the session's time zone. -#}
{% macro current_timestamp_utc() %}
    {{- return(adapter.dispatch('current_timestamp_utc', 'usage_billing')()) -}}
{% endmacro %}

{% macro default__current_timestamp_utc() -%}
    cast({{ dbt.current_timestamp() }} as {{ dbt.type_timestamp() }})
{%- endmacro %}

{#- DuckDB's now() is a timestamptz; casting it would use the session's zone. -#}
{% macro duckdb__current_timestamp_utc() -%}
    (now() at time zone 'UTC')
{%- endmacro %}

{% macro postgres__current_timestamp_utc() -%}
    (now() at time zone 'UTC')
{%- endmacro %}
