{#- Proration of a charge for a period the subscription covers only in part (a cut first or
    last period): `amount` × service_days / full_period_days, exact to 10 decimals, then rounded
    to the currency's minor units; the description says so, "Platform fee (prorated 12/31
    days)". Read the period's service_days, full_period_days and minor_units columns. Flat fees
    and in-advance usage lines are prorated alike. -#}
{% macro prorated_amount(amount) %}
    {{- return(usage_billing.round_money(
        usage_billing.divide_exact(usage_billing.multiply_exact(amount, 'service_days'), 'full_period_days', 10),
        'minor_units',
    )) -}}
{% endmacro %}

{% macro prorated_description(description) %}
    {{- return(dbt.concat([
        description,
        "' (prorated '",
        'cast(service_days as ' ~ dbt.type_string() ~ ')',
        "'/'",
        'cast(full_period_days as ' ~ dbt.type_string() ~ ')',
        "' days)'",
    ])) -}}
{% endmacro %}
