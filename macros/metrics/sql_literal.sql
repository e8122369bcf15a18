{#- A YAML scalar as a SQL text literal, compared with JSON text values: true → 'true'. -#}
{% macro sql_literal(value) %}
    {%- if value is sameas true or value is sameas false -%}
        {%- set text = value | string | lower -%}
    {%- else -%}
        {%- set text = value | string -%}
    {%- endif -%}
    {{- return(usage_billing.string_literal(text)) -}}
{% endmacro %}
