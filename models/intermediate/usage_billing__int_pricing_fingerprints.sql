{#- Which metrics and groups each invoice prices, and over which instants, as one hash: when it
    changes, int_usage_by_billing_period computes the invoice's usage again (it stores the hash
    beside the usage). -#}
{{ config(materialized='ephemeral') }}

with prices_by_billing_period as (

    select * from {{ ref('usage_billing', 'usage_billing__int_prices_by_billing_period') }}

),

final as (

    select
        invoice_id,
        {{ dbt.hash(dbt.concat([
            'cast(min(period_start) as ' ~ dbt.type_string() ~ ')', "'|'",
            'cast(min(period_end) as ' ~ dbt.type_string() ~ ')', "'|'",
            dbt.listagg(
                dbt.concat(['metric_name', "'='", "coalesce(group_value, '')"]),
                "','",
                'order by metric_name, group_value',
            ),
        ])) }} as pricing_fingerprint
    from prices_by_billing_period
    where metric_name is not null
    group by invoice_id

)

select * from final
