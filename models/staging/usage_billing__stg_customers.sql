{%- set customers = usage_billing.pricing_relation('customers') -%}
{%- set text = dbt.type_string() -%}

with source as (

    select * from {{ customers }}

),

renamed as (

    select
        cast(customer_id as {{ text }}) as customer_id,
        cast(name as {{ text }}) as customer_name,
        cast(billing_email as {{ text }}) as billing_email,
        cast(coalesce(timezone, 'UTC') as {{ text }}) as timezone,
        -- Columns added after the first release (docs/invoices.md): optional, so customers
        -- tables made before them keep working; empty ones take the defaults.
        coalesce(
            {{ usage_billing.optional_column(customers, 'issuer_id', text) }},
            {{ usage_billing.string_literal(usage_billing.default_issuer_id()) }}
        ) as issuer_id,
        {%- set buyer_columns = [
            'address_line1', 'address_line2', 'address_city', 'address_postal_code',
            'address_state', 'address_country', 'tax_id',
        ] %}
        {%- for column in buyer_columns %}
            {{ usage_billing.optional_column(customers, column, text) }} as {{ column }},
        {%- endfor %}
        coalesce(
            {{ usage_billing.optional_column(customers, 'payment_terms_days', dbt.type_int()) }},
            {{ usage_billing.default_payment_terms_days() }}
        ) as payment_terms_days,
        -- Stripe's three values: taxed, exempt, or reverse charge (the buyer accounts for it).
        lower(coalesce({{ usage_billing.optional_column(customers, 'tax_exempt', text) }}, 'none')) as tax_exempt,
        -- Parent accounts (docs/pricing.md): the customer whose subscription may bill this one's
        -- usage; empty means none.
        nullif({{ usage_billing.optional_column(customers, 'parent_customer_id', text) }}, '') as parent_customer_id
    from source

)

select * from renamed
