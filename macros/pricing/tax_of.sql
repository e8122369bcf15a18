{#- The tax of `amount` at the rate in `rates` (a relation with percentage, gross_percentage
    and minor_units; empty: the columns unqualified): amount x percentage / gross_percentage,
    half-up to minor units.
    gross_percentage is 100 for an exclusive rate and 100 plus the inclusive rates for an
    inclusive one, so that the tax found inside a gross amount comes out. -#}
{% macro tax_of(amount, rates) -%}
    {%- set rates = rates ~ '.' if rates else '' -%}
    {{ usage_billing.round_money(
        usage_billing.divide_exact(
            usage_billing.multiply_exact('(' ~ amount ~ ')', rates ~ 'percentage'),
            'case when ' ~ rates ~ 'is_inclusive then ' ~ rates ~ 'gross_percentage else 100 end',
            10,
        ),
        rates ~ 'minor_units',
    ) }}
{%- endmacro %}
