{#- The sellers issuing invoices (var usage_billing_issuers, docs/invoices.md), checked at
    compile time: a list of mappings, the first the default. Each needs an issuer_id and an
    invoice_number_prefix; ids and prefixes are unique, so two sellers never hand out the same
    number; invoice_number_digits (zero-padding width, default 6) is a whole number from 1 to 18.
    Returns the list with every optional field filled. -#}
{% macro issuers() %}
    {%- set configured = var('usage_billing_issuers') -%}
    {%- if configured is string or configured is mapping or configured is not iterable or configured | length == 0 -%}
        {{ exceptions.raise_compiler_error("usage_billing_issuers must be a non-empty list of issuers") }}
    {%- endif -%}
    {%- set checked = [] -%}
    {%- set ids = [] -%}
    {%- set prefixes = {} -%}
    {%- for issuer in configured -%}
        {%- if issuer is not mapping -%}
            {{ exceptions.raise_compiler_error("usage_billing_issuers: entry " ~ loop.index ~ " is not a mapping") }}
        {%- endif -%}
        {%- set issuer_id = issuer.get('issuer_id') -%}
        {%- if issuer_id is none or (issuer_id | string | trim) == '' -%}
            {{ exceptions.raise_compiler_error("usage_billing_issuers: entry " ~ loop.index ~ " has no issuer_id") }}
        {%- endif -%}
        {%- set issuer_id = issuer_id | string -%}
        {%- set where = "usage_billing_issuers: issuer '" ~ issuer_id ~ "'" -%}
        {%- if issuer_id in ids -%}
            {{ exceptions.raise_compiler_error(where ~ ": issuer_id is used by two issuers") }}
        {%- endif -%}
        {%- set prefix = issuer.get('invoice_number_prefix') -%}
        {%- if prefix is none or (prefix | string | trim) == '' -%}
            {{ exceptions.raise_compiler_error(where ~ ": invoice_number_prefix is empty") }}
        {%- endif -%}
        {%- if (prefix | string) in prefixes -%}
            {{ exceptions.raise_compiler_error(
                where ~ ": invoice_number_prefix '" ~ prefix ~ "' is also issuer '"
                ~ prefixes[prefix | string] ~ "''s"
            ) }}
        {%- endif -%}
        {%- set digits = issuer.get('invoice_number_digits', 6) -%}
        {%- if digits is not number or digits is boolean or digits != (digits | int) or digits < 1 or digits > 18 -%}
            {{ exceptions.raise_compiler_error(where ~ ": invoice_number_digits must be a whole number from 1 to 18, not " ~ digits) }}
        {%- endif -%}
        {%- set address = issuer.get('address') or [] -%}
        {%- if address is string or address is mapping or address is not iterable -%}
            {{ exceptions.raise_compiler_error(where ~ ": address must be a list of lines") }}
        {%- endif -%}
        {%- for field in ['name', 'email', 'tax_id'] -%}
            {%- if issuer.get(field) is not none and issuer.get(field) is not string -%}
                {{ exceptions.raise_compiler_error(where ~ ": " ~ field ~ " must be text") }}
            {%- endif -%}
        {%- endfor -%}
        {%- do ids.append(issuer_id) -%}
        {%- do prefixes.update({prefix | string: issuer_id}) -%}
        {%- do checked.append({
            'issuer_id': issuer_id,
            'name': issuer.get('name'),
            'address': address | map('string') | list,
            'email': issuer.get('email'),
            'tax_id': issuer.get('tax_id'),
            'invoice_number_prefix': prefix | string,
            'invoice_number_digits': digits | int,
        }) -%}
    {%- endfor -%}
    {{ return(checked) }}
{% endmacro %}

{#- The default issuer's id: customers without an issuer_id are billed by it. -#}
{% macro default_issuer_id() %}
    {{ return(usage_billing.issuers()[0]['issuer_id']) }}
{% endmacro %}

{#- The var usage_billing_payment_terms_days, checked: the days from an invoice's issue date to
    its due date for customers without payment_terms_days of their own. -#}
{% macro default_payment_terms_days() %}
    {%- set days = var('usage_billing_payment_terms_days', 30) -%}
    {%- if days is not number or days is boolean or days != (days | int) or days < 0 -%}
        {{ exceptions.raise_compiler_error(
            "usage_billing_payment_terms_days must be a whole number of days, 0 or more, not " ~ days
        ) }}
    {%- endif -%}
    {{ return(days | int) }}
{% endmacro %}
