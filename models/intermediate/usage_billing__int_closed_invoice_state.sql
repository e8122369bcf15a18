{#- The lines of closed invoices frozen by earlier builds (closed_invoice_lines before this
    build appends to it), copied once so that the models deciding what is still open read one
    consistent state. Empty under the late-usage policy amend_closed. -#}

with frozen_lines as (

    {{ usage_billing.closed_invoice_state() }}

)

select * from frozen_lines
