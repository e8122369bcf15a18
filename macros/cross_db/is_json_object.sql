{#- True when the text parses as a JSON object ({...}); false for malformed text, arrays and
    scalars, which cannot carry event properties. -#}
{% macro is_json_object(json_text) %}
    {{- return(adapter.dispatch('is_json_object', 'usage_billing')(json_text)) -}}
{% endmacro %}

{#- DuckDB: json_type raises on malformed text, so only valid text reaches it. -#}
{% macro default__is_json_object(json_text) -%}
    coalesce(json_type(case when json_valid({{ json_text }}) then {{ json_text }} end) = 'OBJECT', false)
{%- endmacro %}

{#- PostgreSQL 16+ has the SQL/JSON IS JSON predicate, which never raises on bad text. -#}
{% macro postgres__is_json_object(json_text) -%}
    coalesce({{ json_text }} is json object, false)
{%- endmacro %}

{% macro snowflake__is_json_object(json_text) -%}
    coalesce(is_object(try_parse_json({{ json_text }})), false)
{%- endmacro %}

{% macro bigquery__is_json_object(json_text) -%}
    coalesce(json_type(safe.parse_json({{ json_text }})) = 'object', false)
{%- endmacro %}

{#- Spark: from_json to a map yields null for anything that is not an object. -#}
{% macro spark__is_json_object(json_text) -%}
    (from_json({{ json_text }}, 'map<string,string>') is not null)
{%- endmacro %}
