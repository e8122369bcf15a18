{#- A select list of int_invoice_lines_unnumbered: every column of an invoice line before
    numbering, in one order, each cast to its one type. `values` maps a column to its
    expression; the columns it leaves out are null, flat_amount 0 and is_percentage false.
    Each branch of the union casts alike: a union takes the widest type of its branches, and
    Spark narrows a decimal's scale to fit (a rate of 10 places lost its last one). -#}
{% macro unnumbered_line(values) %}
    {%- set text = dbt.type_string() -%}
    {%- set integer = dbt.type_int() -%}
    {%- set money = usage_billing.type_decimal() -%}
    {%- set defaults = {'line_group': "''", 'line_order': '0', 'flat_amount': '0', 'is_percentage': 'false'} -%}
    {%- set columns = [
        ('invoice_id', text), ('line_section', integer), ('line_group', text), ('line_order', integer),
        ('price_id', text), ('credit_grant_id', text), ('metric_name', text), ('group_value', text),
        ('adjusted_invoice_id', text), ('line_type', text), ('description', text), ('tier', integer),
        ('quantity', money), ('unit_price', money), ('flat_amount', money), ('amount', money),
        ('is_percentage', dbt.type_boolean()), ('tier_first_unit', money), ('tier_last_unit', money),
        ('tax_rate_id', text), ('tax_amount', money), ('billing_timing', text),
        ('child_customer_id', text),
    ] -%}
    {%- for name, type in columns %}
        cast({{ values.get(name, defaults.get(name, 'null')) }} as {{ type }}) as {{ name }}{{ ',' if not loop.last }}
    {%- endfor %}
{% endmacro %}
