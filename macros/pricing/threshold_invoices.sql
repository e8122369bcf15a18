{#- Threshold billing (docs/usage-controls.md, "Threshold billing"): the issued threshold
    invoices and their numbers as they stood when this build started. -#}

{#- Columns of threshold_invoice_lines, with their types: an invoice line (invoice_id is the
    threshold invoice's, `<period invoice_id>/t<n>`), then the period invoice it bills early,
    its n, the level it reached and when it was issued. -#}
{% macro threshold_invoice_line_columns() %}
    {{ return(usage_billing.invoice_line_columns() + [
        ('threshold_of_invoice_id', dbt.type_string()), ('threshold_sequence', dbt.type_int()),
        ('threshold_billing_amount', usage_billing.type_decimal()), ('issued_at', dbt.type_timestamp()),
    ]) }}
{% endmacro %}

{#- The lines of the threshold invoices issued by earlier builds, read by name: the models
    computing the period invoices that net them are upstream of threshold_invoice_lines. -#}
{% macro threshold_invoice_state() %}
    {{- usage_billing.stored_model_state(
        'usage_billing__threshold_invoice_lines', usage_billing.threshold_invoice_line_columns()
    ) -}}
{% endmacro %}

{#- The numbers given by earlier builds, read by name for the same reason: a period invoice's
    netting line names the threshold invoice's number. -#}
{% macro invoice_number_state() %}
    {{- usage_billing.stored_model_state(
        'usage_billing__invoice_numbers',
        [('invoice_id', dbt.type_string()), ('invoice_number', dbt.type_string())],
    ) -}}
{% endmacro %}
