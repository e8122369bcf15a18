{#- True when the text parses as a JSON object ({...}); false for malformed text, arrays and
    scalars, which cannot carry event properties. -#}
{% macro is_json_object(json_text) %}
    {{- return(adapter.dispatch('is_json_object', 'usage_billing')(json_text)) -}}
{% endmacro %}

{#- DuckDB's functions, the default: json_type raises on malformed text, so only valid text
    reaches it. -#}
{% macro default__is_json_object(json_text) -%}
    coalesce(json_type(case when json_valid({{ json_text }}) then {{ json_text }} end) = 'OBJECT', false)
{%- endmacro %}

{#- PostgreSQL before 16 has no IS JSON predicate nor a non-raising cast to jsonb: a function
    created at run start (create_engine_functions) catches the error. -#}
{% macro postgres__is_json_object(json_text) -%}
    coalesce({{ adapter.quote(target.schema) }}.usage_billing_is_json_object({{ json_text }}), false)
{%- endmacro %}

{#- Redshift: is_valid_json never raises; an object is the JSON that starts with a brace. -#}
{% macro redshift__is_json_object(json_text) -%}
    coalesce(is_valid_json({{ json_text }}) and left(ltrim({{ json_text }}), 1) = '{', false)
{%- endmacro %}

{#- Snowflake: check_json is null for valid JSON and never raises; an object starts with a brace.
    (is_object(try_parse_json(..)) says the same, but the emulator used in tests lacks it.) -#}
{% macro snowflake__is_json_object(json_text) -%}
    coalesce(check_json({{ json_text }}) is null and left(ltrim({{ json_text }}), 1) = '{', false)
{%- endmacro %}

{#- BigQuery: safe.parse_json yields null on bad text; json_type names the kind in lower case. -#}
{% macro bigquery__is_json_object(json_text) -%}
    coalesce(json_type(safe.parse_json({{ json_text }})) = 'object', false)
{%- endmacro %}

{#- Spark: from_json to a map yields null for anything that is not an object. -#}
{% macro spark__is_json_object(json_text) -%}
    (from_json({{ json_text }}, 'map<string,string>') is not null)
{%- endmacro %}
