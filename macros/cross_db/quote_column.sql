{#- A column name as written in a model, for columns named in configuration (a metric's
    timestamp_column, property of a relation, ...). -#}
{% macro quote_column(name) %}
    {{- return(adapter.dispatch('quote_column', 'usage_billing')(name)) -}}
{% endmacro %}

{% macro default__quote_column(name) -%}
    {{ adapter.quote(name) }}
{%- endmacro %}

{#- Snowflake stores unquoted names in upper case and quoted ones as written: a plain name stays
    unquoted so that order_id finds ORDER_ID; any other name is quoted as given. -#}
{% macro snowflake__quote_column(name) -%}
    {%- if modules.re.match('^[A-Za-z_][A-Za-z0-9_]*$', name) -%}
        {{ name }}
    {%- else -%}
        {{ adapter.quote(name) }}
    {%- endif -%}
{%- endmacro %}
