{#- A fixed-width hash of a text key, to group and join on where a collision is harmless (it
    only makes two keys look alike, and an exact step follows). DuckDB: its 64-bit hash(), which
    groups 100 M event keys faster than the strings (the int_usage_events_validated statement
    at 100 M: 179 s against 200 s). Elsewhere the key itself. -#}
{% macro key_hash(key) %}
    {{- return(adapter.dispatch('key_hash', 'usage_billing')(key)) -}}
{% endmacro %}

{% macro default__key_hash(key) -%}
    {{ key }}
{%- endmacro %}

{% macro duckdb__key_hash(key) -%}
    hash({{ key }})
{%- endmacro %}
