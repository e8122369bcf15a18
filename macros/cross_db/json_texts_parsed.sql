{#- Several text values of one JSON object, parsed once where the engine can: store
    json_texts_parsed(json_text, paths) in a column, then read each dotted path of `paths` with
    json_text_of_parsed(column, json_text, paths, path). Engines without a cheap multi-path
    extraction store nothing (null) and read each path from the JSON text itself. Only valid
    JSON may reach it (DuckDB raises on malformed text). -#}
{% macro json_texts_parsed(json_text, paths) %}
    {{- return(adapter.dispatch('json_texts_parsed', 'usage_billing')(json_text, paths)) -}}
{% endmacro %}

{% macro default__json_texts_parsed(json_text, paths) -%}
    cast(null as {{ dbt.type_string() }})
{%- endmacro %}

{#- DuckDB: one parse yields a list of every path's text. -#}
{% macro duckdb__json_texts_parsed(json_text, paths) -%}
    {%- if paths -%}
        json_extract_string({{ json_text }}, [
            {%- for path in paths -%}'$.{{ path }}'{{ ', ' if not loop.last }}{%- endfor -%}
        ])
    {%- else -%}
        cast(null as varchar[])
    {%- endif -%}
{%- endmacro %}

{% macro json_text_of_parsed(parsed, json_text, paths, path) %}
    {{- return(adapter.dispatch('json_text_of_parsed', 'usage_billing')(parsed, json_text, paths, path)) -}}
{% endmacro %}

{% macro default__json_text_of_parsed(parsed, json_text, paths, path) -%}
    {{ usage_billing.json_extract_text(json_text, path) }}
{%- endmacro %}

{% macro duckdb__json_text_of_parsed(parsed, json_text, paths, path) -%}
    {{ parsed }}[{{ paths.index(path) + 1 }}]
{%- endmacro %}

{#- True where json_text_of_parsed reads the stored list, not the JSON text: there the raw text
    need not be kept once parsed. -#}
{% macro reads_parsed_properties() %}
    {{- return(adapter.dispatch('reads_parsed_properties', 'usage_billing')()) -}}
{% endmacro %}

{% macro default__reads_parsed_properties() %}
    {{- return(false) -}}
{% endmacro %}

{% macro duckdb__reads_parsed_properties() %}
    {{- return(true) -}}
{% endmacro %}
