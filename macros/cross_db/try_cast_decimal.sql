{#- Text as an exact decimal, or null when it is not a number. dbt.safe_cast is a plain cast
    (which raises) on DuckDB and PostgreSQL, so this macro exists. -#}
{% macro try_cast_decimal(text) %}
    {{- return(adapter.dispatch('try_cast_decimal', 'usage_billing')(text)) -}}
{% endmacro %}

{% macro default__try_cast_decimal(text) -%}
    try_cast({{ text }} as {{ usage_billing.type_decimal() }})
{%- endmacro %}

{#- BigQuery spells it safe_cast. -#}
{% macro bigquery__try_cast_decimal(text) -%}
    safe_cast({{ text }} as {{ usage_billing.type_decimal() }})
{%- endmacro %}

{#- PostgreSQL and Redshift have no try_cast: cast only what looks like a number. -#}
{% macro postgres__try_cast_decimal(text) -%}
    case
        when {{ text }} ~ '^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$'
            then cast({{ text }} as {{ usage_billing.type_decimal() }})
    end
{%- endmacro %}

{% macro redshift__try_cast_decimal(text) -%}
    {{ usage_billing.postgres__try_cast_decimal(text) }}
{%- endmacro %}
