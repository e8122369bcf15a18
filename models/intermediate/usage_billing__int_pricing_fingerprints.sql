{#- Which metrics and groups each invoice prices, and over which instants, as one hash: when it
    changes, int_usage_by_billing_period computes the invoice's usage again (it stores the hash
    beside the usage). The same pricing must give the same hash on every run: the texts are
    joined in a fixed order on every engine (listagg_ordered; Spark's collect_list keeps none,
    and an incremental run that read two hashes for one invoice lost its stored usage). Parent
    accounts: the children whose events the invoice bills, and how, are in it too (a child that
    gains a parent has its stored events counted there); an invoice that bills none hashes as
    before. -#}
{{ config(materialized='ephemeral') }}
{%- set priced_group = dbt.concat(['metric_name', "'='", "coalesce(group_value, '')"]) %}
{%- set child = dbt.concat(['usage_customer_id', "'='", "coalesce(child_customer_id, '')"]) %}

with prices_by_billing_period as (

    select * from {{ ref('usage_billing', 'usage_billing__int_prices_by_billing_period') }}

),

usage_customers as (

    select * from {{ ref('usage_billing', 'usage_billing__int_billing_period_usage_customers') }}

),

billed_children as (

    select
        usage_customers.invoice_id,
        {{ usage_billing.listagg_ordered(child, "','", child) }} as children
    from usage_customers
    inner join {{ ref('usage_billing', 'usage_billing__int_billing_periods') }} as billing_periods
        on usage_customers.invoice_id = billing_periods.invoice_id
    where usage_customers.usage_customer_id <> billing_periods.customer_id
    group by usage_customers.invoice_id

),

priced as (

    select
        invoice_id,
        {{ dbt.concat([
            'cast(min(period_start) as ' ~ dbt.type_string() ~ ')', "'|'",
            'cast(min(period_end) as ' ~ dbt.type_string() ~ ')', "'|'",
            usage_billing.listagg_ordered(priced_group, "','", priced_group),
        ]) }} as pricing_text
    from prices_by_billing_period
    where metric_name is not null
    group by invoice_id

),

final as (

    select
        priced.invoice_id,
        {{ dbt.hash(dbt.concat([
            'priced.pricing_text',
            "coalesce(" ~ dbt.concat(["'|'", 'billed_children.children']) ~ ", '')",
        ])) }} as pricing_fingerprint
    from priced
    left join billed_children
        on priced.invoice_id = billed_children.invoice_id

)

select * from final
