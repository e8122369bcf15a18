{#- The sellers of var usage_billing_issuers as rows (checked at compile time,
    macros/invoices/issuers.sql), so SQL, the pages and the push read them from the warehouse. -#}

{%- set text = dbt.type_string() -%}

with issuers as (

    {% for issuer in usage_billing.issuers() -%}
        select
            cast({{ usage_billing.string_literal(issuer.issuer_id) }} as {{ text }}) as issuer_id,
            {%- for field in ['name', 'email', 'tax_id'] %}
                {%- set value = issuer[field] %}
                cast({{ usage_billing.string_literal(value) if value is not none else 'null' }} as {{ text }})
                    as {{ field }},
            {%- endfor %}
            cast({{ usage_billing.string_literal(tojson(issuer.address)) }} as {{ text }}) as address_lines,
            cast({{ usage_billing.string_literal(issuer.invoice_number_prefix) }} as {{ text }})
                as invoice_number_prefix,
            cast({{ issuer.invoice_number_digits }} as {{ dbt.type_int() }}) as invoice_number_digits,
            {{ 'true' if loop.first else 'false' }} as is_default
        {{ 'union all' if not loop.last }}
    {% endfor %}

),

final as (

    select
        issuer_id,
        name,
        email,
        tax_id,
        address_lines,
        invoice_number_prefix,
        invoice_number_digits,
        is_default
    from issuers

)

select * from final
