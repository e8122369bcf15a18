{#- The lines of flat prices: one fee per period, prorated by the days of the period the
    subscription covers (macros/pricing/prorated.sql). In
    arrears a fee is billed once the period has ended; in advance, from the period's first day. -#}
{{ config(materialized='ephemeral') }}

with priced_usage as (

    select * from {{ ref('usage_billing', 'usage_billing__int_prices_with_usage') }}

),

flat_fees as (

    select
        *,
        is_prorated and service_days < full_period_days as is_prorated_here
    from priced_usage
    where
        pricing_model = 'flat'
        and (billing_timing = 'in_advance' or status <> 'live')

),

fee_amounts as (

    select
        *,
        case
            when is_prorated_here then {{ usage_billing.prorated_description('description') }}
            else description
        end as fee_description,
        case
            when is_prorated_here then {{ usage_billing.prorated_amount('flat_amount') }}
            else flat_amount
        end as fee_unit_price,
        case
            when is_prorated_here then {{ usage_billing.prorated_amount('flat_amount') }}
            else {{ usage_billing.round_money('flat_amount', 'minor_units') }}
        end as fee_amount
    from flat_fees

),

final as (

    select
        {{ usage_billing.priced_line_select({
            'line_type': "'fee'",
            'description': 'fee_description',
            'quantity': 'cast(1 as ' ~ usage_billing.type_decimal() ~ ')',
            'unit_price': 'fee_unit_price',
            'amount': 'fee_amount',
            'is_percentage': 'false',
        }) }}
    from fee_amounts

)

select * from final
