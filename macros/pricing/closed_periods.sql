{#- Closed periods (docs/closing-periods.md): the late-usage policy, and the frozen lines of
    closed invoices as they stood before this build. -#}

{#- The var usage_billing_late_usage_policy, checked: next_open_period (default) bills late
    usage of a closed invoice on the next open invoice; amend_closed revises the closed one. -#}
{% macro late_usage_policy() %}
    {%- set policy = var('usage_billing_late_usage_policy', 'next_open_period') -%}
    {%- if policy not in ['next_open_period', 'amend_closed'] -%}
        {{ exceptions.raise_compiler_error(
            "usage_billing_late_usage_policy must be next_open_period or amend_closed, not '"
            ~ policy ~ "'"
        ) }}
    {%- endif -%}
    {{ return(policy) }}
{% endmacro %}

{#- The columns of an invoice line, with their types, in invoice_lines' order: the lines a
    build computes, those it froze and those it shows share them. A column added later goes
    last: closed_invoice_lines appends it to a table frozen before (on_schema_change). -#}
{% macro invoice_line_columns() %}
    {%- set text = dbt.type_string() -%}
    {%- set integer = dbt.type_int() -%}
    {%- set money = usage_billing.type_decimal() -%}
    {{ return([
        ('invoice_line_id', text), ('invoice_id', text), ('line_number', integer),
        ('line_type', text), ('price_id', text), ('credit_grant_id', text),
        ('metric_name', text), ('group_value', text), ('adjusted_invoice_id', text),
        ('description', text), ('tier', integer), ('quantity', money), ('unit_price', money),
        ('flat_amount', money), ('amount', money), ('currency', text),
        ('is_percentage', dbt.type_boolean()), ('tier_first_unit', money), ('tier_last_unit', money),
        ('tax_rate_id', text), ('tax_amount', money), ('billing_timing', text),
        ('child_customer_id', text),
    ]) }}
{% endmacro %}

{#- `relation.column` for every invoice-line column, comma-separated. -#}
{% macro invoice_line_select(relation) %}
    {%- for name, type in usage_billing.invoice_line_columns() -%}
        {{ relation }}.{{ name }}{{ ',\n        ' if not loop.last }}
    {%- endfor -%}
{% endmacro %}

{#- Columns of closed_invoice_lines, with their types: the lines of invoice_lines, then when
    the invoice was closed and frozen. -#}
{% macro closed_invoice_line_columns() %}
    {{ return(usage_billing.invoice_line_columns() + [
        ('closed_through', 'date'), ('closed_at', dbt.type_timestamp()), ('frozen_at', dbt.type_timestamp()),
    ]) }}
{% endmacro %}

{#- The frozen lines as of the start of this build. They are read from the table of
    closed_invoice_lines by name, not by ref: that model is downstream (it freezes what this
    build computes from them), and a ref would be a cycle. Every model calling this is an
    ancestor of closed_invoice_lines, so it always reads the table before this build appends
    to it. No table yet, or policy amend_closed (nothing is frozen): no rows. -#}
{% macro closed_invoice_state() %}
    {{- usage_billing.stored_model_state(
        'usage_billing__closed_invoice_lines',
        usage_billing.closed_invoice_line_columns(),
        usage_billing.late_usage_policy() == 'next_open_period',
    ) -}}
{% endmacro %}

{#- The rows of an append-only model (closed_invoice_lines, threshold_invoice_lines,
    invoice_numbers) as they stood when this build started, read from its table by name: for
    models upstream of it, which a ref would make a cycle. No table yet, or not `enabled`: no
    rows. A column the table lacks (stored by a release before the column existed, and not
    yet appended by the model, which builds later) reads as null. -#}
{% macro stored_model_state(model_name, columns, enabled=true) %}
    {%- set existing = none -%}
    {%- if execute and enabled -%}
        {%- set node = graph.nodes.get('model.usage_billing.' ~ model_name) -%}
        {%- if node is not none -%}
            {%- set existing = adapter.get_relation(
                database=node.database, schema=node.schema, identifier=node.alias
            ) -%}
        {%- endif -%}
    {%- endif -%}
    {%- if existing is not none %}
    {%- set stored = adapter.get_columns_in_relation(existing) | map(attribute='name') | map('lower') | list %}
    select
        {%- for name, type in columns %}
        {% if name in stored %}{{ name }}{% else %}cast(null as {{ type }}) as {{ name }}{% endif %}
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ existing }}
    {%- else %}
    select
        {%- for name, type in columns %}
        cast(null as {{ type }}) as {{ name }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from (select 1 as no_rows) as nothing_stored
    where 1 = 0
    {%- endif %}
{% endmacro %}
