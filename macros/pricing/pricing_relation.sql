{#- The relation holding one pricing table (customers, prices, …), by the first of:
    - usage_billing_pricing_schema set: the table of that name in that schema (a source);
    - usage_billing_pricing_package set: that dbt project's model or seed of that name, so dbt
      builds it before the models that read it (the demo's seeds are read this way);
    - neither: the table of that name in the target schema (a source). -#}
{% macro pricing_relation(table_name) %}
    {%- if not var('usage_billing_pricing_schema') and var('usage_billing_pricing_package') -%}
        {{ return(ref(var('usage_billing_pricing_package'), table_name)) }}
    {%- else -%}
        {{ return(source('usage_billing_pricing', table_name)) }}
    {%- endif -%}
{% endmacro %}
