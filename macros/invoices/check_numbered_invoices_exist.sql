{#- Stops the build of invoice_numbers when an invoice it numbered is gone from the billing
    periods and the threshold invoices (its subscription was deleted or now starts later),
    naming the invoices: an issued
    number must keep its invoice, and is never handed out again. -#}
{% macro check_numbered_invoices_exist(numbers, billing_periods, threshold_invoice_lines) %}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set missing = run_query(
        'select numbers.invoice_id, numbers.invoice_number from ' ~ numbers ~ ' as numbers'
        ~ ' left join ' ~ billing_periods ~ ' as billing_periods'
        ~ ' on numbers.invoice_id = billing_periods.invoice_id'
        ~ ' left join (select distinct invoice_id from ' ~ threshold_invoice_lines ~ ') as threshold_invoices'
        ~ ' on numbers.invoice_id = threshold_invoices.invoice_id'
        ~ ' where billing_periods.invoice_id is null and threshold_invoices.invoice_id is null'
        ~ ' order by numbers.invoice_number'
    ) -%}
    {%- if missing.rows | length > 0 -%}
        {%- set named = [] -%}
        {%- for row in missing.rows -%}{%- do named.append(row[0] ~ ' (' ~ row[1] ~ ')') -%}{%- endfor -%}
        {{ exceptions.raise_compiler_error(
            'Numbered invoices no longer exist (was a subscription deleted?): '
            ~ named | join(', ')
            ~ '. Issued numbers keep their invoice: restore the subscription (docs/invoices.md).'
        ) }}
    {%- endif -%}
    {{ return('') }}
{% endmacro %}
