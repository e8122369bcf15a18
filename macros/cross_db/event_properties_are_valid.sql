{#- True when the text is a JSON object by the contract. Elsewhere the engine's parser decides
    (PostgreSQL's, like RFC 8259, refuses NaN, trailing commas and a NUL escape); the nesting
    depth is checked on DuckDB only (docs/engines.md). -#}
{% macro event_properties_are_valid(json_text) %}
    {{- return(adapter.dispatch('event_properties_are_valid', 'usage_billing')(json_text)) -}}
{% endmacro %}

{% macro default__event_properties_are_valid(json_text) -%}
    {{ usage_billing.is_json_object(json_text) }}
{%- endmacro %}

{#- DuckDB's parser also takes NaN, Infinity and trailing commas, and a NUL escape, which are
    refused here. The costly checks run only on the text a cheap test picks out, inside `case`,
    which DuckDB evaluates lazily (`and` is not lazy), as the CSV loader's
    (usage_billing/events/contract_sql.py). -#}
{% macro duckdb__event_properties_are_valid(json_text) -%}
    {%- set contract = usage_billing.event_contract() -%}
    {%- set depth = contract['max_properties_depth'] -%}
    {%- set between_strings = "regexp_replace(" ~ json_text ~ ", " ~ usage_billing.string_literal(contract['json_string']) ~ ", '\"\"', 'g')" -%}
    {%- set brackets = "regexp_replace(" ~ between_strings ~ ", '[^][{}]', '', 'g')" -%}
    ({{ usage_billing.is_json_object(json_text) }}
        {#- NaN and Infinity in any case hold 'nan' or 'inf'; a trailing comma, a comma then a bracket. #}
        and case
            when {{ json_text }} ilike '%nan%' or {{ json_text }} ilike '%inf%'
                or regexp_matches({{ json_text }}, ',[ \t\r\n]*[]}]')
                then not regexp_matches({{ between_strings }}, {{ usage_billing.string_literal(contract['non_standard_json']) }})
            else true
        end
        and case
            when contains({{ json_text }}, '\u0000')
                then not regexp_matches({{ json_text }}, {{ usage_billing.string_literal(contract['nul_escape']) }})
            else true
        end
        and case
            when length({{ json_text }}) - length(replace(replace({{ json_text }}, '{', ''), '[', '')) > {{ depth }}
                then regexp_matches({{ brackets }}, {{ usage_billing.string_literal(contract['brackets_within_depth']) }})
            else true
        end)
{%- endmacro %}
