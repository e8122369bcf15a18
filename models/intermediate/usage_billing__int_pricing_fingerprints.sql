{#- Which metrics and groups each invoice prices, and over which instants, as one hash: when it
    changes, int_usage_by_billing_period computes the invoice's usage again (it stores the hash
    beside the usage). The same pricing must give the same hash on every run: the texts are
    joined in a fixed order on every engine (listagg_ordered; Spark's collect_list keeps none,
    and an incremental run that read two hashes for one invoice lost its stored usage). -#}
{{ config(materialized='ephemeral') }}
{%- set priced_group = dbt.concat(['metric_name', "'='", "coalesce(group_value, '')"]) %}

with prices_by_billing_period as (

    select * from {{ ref('usage_billing', 'usage_billing__int_prices_by_billing_period') }}

),

final as (

    select
        invoice_id,
        {{ dbt.hash(dbt.concat([
            'cast(min(period_start) as ' ~ dbt.type_string() ~ ')', "'|'",
            'cast(min(period_end) as ' ~ dbt.type_string() ~ ')', "'|'",
            usage_billing.listagg_ordered(priced_group, "','", priced_group),
        ])) }} as pricing_fingerprint
    from prices_by_billing_period
    where metric_name is not null
    group by invoice_id

)

select * from final
