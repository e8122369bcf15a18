{#- A column name as written in a model, for columns named in configuration (the column vars, a
    metric's timestamp_column, property of a relation, ...): quoted, with the quote character
    escaped as the engine escapes it inside a quoted name, so any name is one column and never
    SQL (adapter.quote does not escape it). -#}
{% macro quote_column(name) %}
    {{- return(adapter.dispatch('quote_column', 'usage_billing')(name)) -}}
{% endmacro %}

{#- Standard SQL (DuckDB, PostgreSQL, Redshift): double quotes, one inside doubled. -#}
{% macro default__quote_column(name) -%}
    "{{ name | replace('"', '""') }}"
{%- endmacro %}

{#- Snowflake stores unquoted names in upper case and quoted ones as written: a plain name stays
    unquoted so that order_id finds ORDER_ID; any other name is quoted as given. -#}
{% macro snowflake__quote_column(name) -%}
    {%- if modules.re.match('^[A-Za-z_][A-Za-z0-9_]*\\Z', name) -%}
        {{ name }}
    {%- else -%}
        {{ usage_billing.default__quote_column(name) }}
    {%- endif -%}
{%- endmacro %}

{#- BigQuery: backticks, one inside escaped with a backslash (as is a backslash). -#}
{% macro bigquery__quote_column(name) -%}
    `{{ name | replace('\\', '\\\\') | replace('`', '\\`') }}`
{%- endmacro %}

{#- Spark and Databricks: backticks, one inside doubled. -#}
{% macro spark__quote_column(name) -%}
    `{{ name | replace('`', '``') }}`
{%- endmacro %}

{% macro databricks__quote_column(name) -%}
    {{ usage_billing.spark__quote_column(name) }}
{%- endmacro %}
