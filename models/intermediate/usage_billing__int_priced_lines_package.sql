{#- The lines of package prices: the billable units in whole packages (1,001 units in packages
    of 1,000 are two packages), each at the unit price. -#}
{{ config(materialized='ephemeral') }}

with priced_usage as (

    select * from {{ ref('usage_billing', 'usage_billing__int_prices_with_usage') }}

),

package_counts as (

    select
        *,
        cast(
            {{ usage_billing.ceil_divide('billable_quantity', 'package_size') }} as {{ usage_billing.type_decimal() }}
        ) as package_count
    from priced_usage
    where pricing_model = 'package'

),

final as (

    select
        {{ usage_billing.priced_line_select({
            'line_type': "'usage'",
            'description': 'usage_description',
            'quantity': 'package_count',
            'amount': usage_billing.round_money(usage_billing.multiply_exact('package_count', 'unit_price'), 'minor_units'),
            'is_percentage': 'false',
        }) }}
    from package_counts

)

select * from final
