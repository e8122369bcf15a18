{#- The relation holding one pricing table: the demo seed of that name, or the table of the
    same name in the schema named by the var usage_billing_pricing_schema. -#}
{% macro pricing_relation(table_name) %}
    {%- if var('usage_billing_pricing_schema') -%}
        {{ return(source('usage_billing_pricing', table_name)) }}
    {%- else -%}
        {{ return(ref(table_name)) }}
    {%- endif -%}
{% endmacro %}
