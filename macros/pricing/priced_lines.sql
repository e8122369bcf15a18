{#- The lines a pricing model prices (usage_billing__int_priced_lines_* ), before numbering: one
    layout, in one order, so the thin int_invoice_lines_priced unions them with `select *`. -#}

{#- The columns of a priced line, with their types, in the order every pricing model's lines
    share. -#}
{% macro priced_line_columns() %}
    {%- set text = dbt.type_string() -%}
    {%- set integer = dbt.type_int() -%}
    {%- set money = usage_billing.type_decimal() -%}
    {{ return([
        ('invoice_id', text), ('price_id', text), ('metric_name', text), ('group_value', text),
        ('line_type', text), ('line_order', integer), ('description', text), ('tier', integer),
        ('quantity', money), ('unit_price', money), ('flat_amount', money), ('amount', money),
        ('is_percentage', dbt.type_boolean()), ('tier_first_unit', money), ('tier_last_unit', money),
        ('billing_timing', text), ('usage_level', text), ('child_customer_id', text),
    ]) }}
{% endmacro %}

{#- The select list of a priced line: `expressions` maps a column to the SQL computing it. A
    column it leaves out is read as is (the price's invoice_id, price_id, metric_name,
    group_value, description, is_percentage, and the row's billing_timing and usage_level: start
    or peak for an in-advance usage price's levels, int_prices_with_usage; child_customer_id, a
    child priced apart with parent accounts), but for a line that is not a tier (tier, its range
    and line_order: null, null and 0) and one with no flat amount (0). -#}
{% macro priced_line_select(expressions) %}
    {%- set defaults = {
        'line_order': '0',
        'tier': 'cast(null as ' ~ dbt.type_int() ~ ')',
        'flat_amount': 'cast(0 as ' ~ usage_billing.type_decimal() ~ ')',
        'tier_first_unit': 'cast(null as ' ~ usage_billing.type_decimal() ~ ')',
        'tier_last_unit': 'cast(null as ' ~ usage_billing.type_decimal() ~ ')',
    } -%}
    {%- set names = usage_billing.priced_line_columns() | map(attribute=0) | list -%}
    {%- for name in expressions if name not in names -%}
        {{ exceptions.raise_compiler_error('priced_line_select: no priced-line column ' ~ name) }}
    {%- endfor -%}
    {%- for name in names -%}
        {%- set expression = expressions.get(name, defaults.get(name, name)) | string -%}
        {{ expression }}{{ ' as ' ~ name if expression != name }}{{ ',\n        ' if not loop.last }}
    {%- endfor -%}
{% endmacro %}

{#- `relation.column` for every priced-line column, comma-separated. -#}
{% macro priced_line_names(relation) %}
    {%- for name, type in usage_billing.priced_line_columns() -%}
        {{ relation }}.{{ name }}{{ ',\n        ' if not loop.last }}
    {%- endfor -%}
{% endmacro %}

{#- The models of every pricing model's lines, for the models that take them all. -#}
{% macro pricing_model_line_models() %}
    {{ return([
        'usage_billing__int_priced_lines_flat',
        'usage_billing__int_priced_lines_per_unit',
        'usage_billing__int_priced_lines_package',
        'usage_billing__int_priced_lines_graduated',
        'usage_billing__int_priced_lines_volume',
        'usage_billing__int_priced_lines_per_transaction',
    ]) }}
{% endmacro %}
