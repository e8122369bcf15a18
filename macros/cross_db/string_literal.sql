{#- `text` as a SQL string literal. Standard SQL doubles a quote; BigQuery reads 'a''b' as two
    adjacent literals (an error) and Spark as two literals run together ('ab', silently), so
    those engines escape quotes and backslashes with a backslash. Snowflake doubles quotes but
    reads a backslash as an escape, so a backslash is doubled there. -#}
{% macro string_literal(text) %}
    {{- return(adapter.dispatch('string_literal', 'usage_billing')(text)) -}}
{% endmacro %}

{% macro default__string_literal(text) -%}
    {{- return("'" ~ text | replace("'", "''") ~ "'") -}}
{%- endmacro %}

{% macro snowflake__string_literal(text) -%}
    {{- return("'" ~ text | replace("\\", "\\\\") | replace("'", "''") ~ "'") -}}
{%- endmacro %}

{% macro bigquery__string_literal(text) -%}
    {{- return("'" ~ text | replace("\\", "\\\\") | replace("'", "\\'") ~ "'") -}}
{%- endmacro %}

{% macro spark__string_literal(text) -%}
    {{- return(usage_billing.bigquery__string_literal(text)) -}}
{%- endmacro %}

{% macro databricks__string_literal(text) -%}
    {{- return(usage_billing.bigquery__string_literal(text)) -}}
{%- endmacro %}
