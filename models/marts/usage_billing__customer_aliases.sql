{#- Which customer each alias names, for readers that are given an alias (the entitlements
    endpoint, docs/entitlements.md). -#}
{{ config(materialized='table') }}

select
    customer_alias,
    customer_id
from {{ ref('usage_billing', 'usage_billing__stg_customer_aliases') }}
