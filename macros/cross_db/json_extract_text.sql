{#- The text value at a dotted path ("card.brand") inside a JSON object held as text;
    null when the path is absent. -#}
{% macro json_extract_text(json_text, dotted_path) %}
    {{- return(adapter.dispatch('json_extract_text', 'usage_billing')(json_text, dotted_path)) -}}
{% endmacro %}

{% macro default__json_extract_text(json_text, dotted_path) -%}
    json_extract_string({{ json_text }}, '$.{{ dotted_path }}')
{%- endmacro %}

{#- PostgreSQL and Redshift: jsonb path operators take the path as an array of keys. -#}
{% macro postgres__json_extract_text(json_text, dotted_path) -%}
    (cast({{ json_text }} as jsonb) #>> '{ {{- dotted_path.split('.') | join(',') -}} }')
{%- endmacro %}

{% macro redshift__json_extract_text(json_text, dotted_path) -%}
    json_extract_path_text({{ json_text }}, '{{ dotted_path.split('.') | join("', '") }}', true)
{%- endmacro %}

{#- Snowflake: a variant path, cast back to text. -#}
{% macro snowflake__json_extract_text(json_text, dotted_path) -%}
    cast(get_path(try_parse_json({{ json_text }}), '{{ dotted_path }}') as varchar)
{%- endmacro %}

{% macro bigquery__json_extract_text(json_text, dotted_path) -%}
    json_value({{ json_text }}, '$.{{ dotted_path }}')
{%- endmacro %}

{% macro spark__json_extract_text(json_text, dotted_path) -%}
    get_json_object({{ json_text }}, '$.{{ dotted_path }}')
{%- endmacro %}
