{#- Every invoice's lines as this build computes them, before numbering, in one shape: prices,
    the commitment true-up, discounts, late-usage adjustments of closed periods, prepaid
    credit, then tax. line_section, line_group and line_order give their order on the invoice
    (int_invoice_lines_computed numbers them). -#}
{{ config(materialized='ephemeral') }}

with price_lines as (

    select * from {{ ref('usage_billing', 'usage_billing__int_invoice_lines_priced') }}

),

commitment_lines as (

    select * from {{ ref('usage_billing', 'usage_billing__int_invoice_commitments') }}

),

discounts as (

    select * from {{ ref('usage_billing', 'usage_billing__int_invoice_discounts') }}

),

credit_draws as (

    select * from {{ ref('usage_billing', 'usage_billing__int_credit_draws') }}

),

taxes as (

    select * from {{ ref('usage_billing', 'usage_billing__int_invoice_taxes') }}

),

adjustments as (

    select * from {{ ref('usage_billing', 'usage_billing__int_late_usage_adjustments') }}

),

metric_definitions as (

    select * from {{ ref('usage_billing', 'usage_billing__int_metric_definitions') }}

),

final as (

    select
        invoice_id,
        1 as line_section,
        cast('' as {{ dbt.type_string() }}) as line_group,
        line_order,
        price_id,
        cast(null as {{ dbt.type_string() }}) as credit_grant_id,
        metric_name,
        group_value,
        cast(null as {{ dbt.type_string() }}) as adjusted_invoice_id,
        line_type,
        description,
        tier,
        quantity,
        unit_price,
        flat_amount,
        amount,
        is_percentage,
        tier_first_unit,
        tier_last_unit,
        cast(null as {{ dbt.type_string() }}) as tax_rate_id,
        cast(null as {{ usage_billing.type_decimal() }}) as tax_amount
    from price_lines

    union all

    select
        invoice_id,
        2 as line_section,
        cast('' as {{ dbt.type_string() }}) as line_group,
        0 as line_order,
        cast(null as {{ dbt.type_string() }}) as price_id,
        cast(null as {{ dbt.type_string() }}) as credit_grant_id,
        cast(null as {{ dbt.type_string() }}) as metric_name,
        cast(null as {{ dbt.type_string() }}) as group_value,
        cast(null as {{ dbt.type_string() }}) as adjusted_invoice_id,
        line_type,
        description,
        cast(null as {{ dbt.type_int() }}) as tier,
        quantity,
        unit_price,
        cast(0 as {{ usage_billing.type_decimal() }}) as flat_amount,
        amount,
        false as is_percentage,
        cast(null as {{ usage_billing.type_decimal() }}) as tier_first_unit,
        cast(null as {{ usage_billing.type_decimal() }}) as tier_last_unit,
        cast(null as {{ dbt.type_string() }}) as tax_rate_id,
        cast(null as {{ usage_billing.type_decimal() }}) as tax_amount
    from commitment_lines

    union all

    -- Discounts, after the charges they reduce, before credit: a negative line each, shown as
    -- base x rate when a percentage was taken whole.
    select
        invoice_id,
        3 as line_section,
        discount_id as line_group,
        0 as line_order,
        cast(null as {{ dbt.type_string() }}) as price_id,
        cast(null as {{ dbt.type_string() }}) as credit_grant_id,
        metric_name,
        cast(null as {{ dbt.type_string() }}) as group_value,
        cast(null as {{ dbt.type_string() }}) as adjusted_invoice_id,
        'discount' as line_type,
        description,
        cast(null as {{ dbt.type_int() }}) as tier,
        -- Each cast to the one exact type: a union takes the widest type of its branches, and
        -- Spark narrows a decimal's scale to fit (a rate of 10 places lost its last one).
        cast(case when is_percentage then base_amount else 1 end as {{ usage_billing.type_decimal() }})
            as quantity,
        cast(
            case
                when is_percentage then 0 - {{ usage_billing.divide_exact('percent_off', '100', 10) }}
                else 0 - discount_amount
            end as {{ usage_billing.type_decimal() }}
        ) as unit_price,
        cast(0 as {{ usage_billing.type_decimal() }}) as flat_amount,
        cast(0 - discount_amount as {{ usage_billing.type_decimal() }}) as amount,
        is_percentage,
        cast(null as {{ usage_billing.type_decimal() }}) as tier_first_unit,
        cast(null as {{ usage_billing.type_decimal() }}) as tier_last_unit,
        cast(null as {{ dbt.type_string() }}) as tax_rate_id,
        cast(null as {{ usage_billing.type_decimal() }}) as tax_amount
    from discounts

    union all

    -- Late usage of a closed period, billed here (docs/closing-periods.md): one settled amount
    -- per price, before credit so that credit may pay it.
    select
        target_invoice_id as invoice_id,
        4 as line_section,
        adjusted_invoice_id as line_group,
        0 as line_order,
        price_id,
        cast(null as {{ dbt.type_string() }}) as credit_grant_id,
        metric_name,
        group_value,
        adjusted_invoice_id,
        'late_usage_adjustment' as line_type,
        description,
        cast(null as {{ dbt.type_int() }}) as tier,
        cast(1 as {{ usage_billing.type_decimal() }}) as quantity,
        amount as unit_price,
        cast(0 as {{ usage_billing.type_decimal() }}) as flat_amount,
        amount,
        false as is_percentage,
        cast(null as {{ usage_billing.type_decimal() }}) as tier_first_unit,
        cast(null as {{ usage_billing.type_decimal() }}) as tier_last_unit,
        cast(null as {{ dbt.type_string() }}) as tax_rate_id,
        cast(null as {{ usage_billing.type_decimal() }}) as tax_amount
    from adjustments
    where target_invoice_id is not null

    union all

    -- Prepaid credit drawn by a final invoice, a negative line per grant.
    select
        credit_draws.invoice_id,
        5 as line_section,
        cast('' as {{ dbt.type_string() }}) as line_group,
        credit_draws.grant_rank as line_order,
        cast(null as {{ dbt.type_string() }}) as price_id,
        credit_draws.grant_id as credit_grant_id,
        credit_draws.metric_name,
        cast(null as {{ dbt.type_string() }}) as group_value,
        cast(null as {{ dbt.type_string() }}) as adjusted_invoice_id,
        'credit' as line_type,
        -- The metric by its display name: an invoice never shows a raw metric key.
        case
            when credit_draws.metric_name is null then {{ dbt.concat(["'Prepaid credit '", 'credit_draws.grant_id']) }}
            else {{ dbt.concat([
                "'Prepaid credit '", 'credit_draws.grant_id', "' ('",
                'coalesce(metric_definitions.display_name, credit_draws.metric_name)', "' only)'",
            ]) }}
        end as description,
        cast(null as {{ dbt.type_int() }}) as tier,
        cast(1 as {{ usage_billing.type_decimal() }}) as quantity,
        cast(0 - credit_draws.credit_amount as {{ usage_billing.type_decimal() }}) as unit_price,
        cast(0 as {{ usage_billing.type_decimal() }}) as flat_amount,
        cast(0 - credit_draws.credit_amount as {{ usage_billing.type_decimal() }}) as amount,
        false as is_percentage,
        cast(null as {{ usage_billing.type_decimal() }}) as tier_first_unit,
        cast(null as {{ usage_billing.type_decimal() }}) as tier_last_unit,
        cast(null as {{ dbt.type_string() }}) as tax_rate_id,
        cast(null as {{ usage_billing.type_decimal() }}) as tax_amount
    from credit_draws
    left join metric_definitions
        on credit_draws.metric_name = metric_definitions.metric_name

    union all

    -- Tax, last (docs/invoices.md, "Tax"): base x rate, a line per rate. An exclusive tax adds
    -- its amount; an inclusive one is already in the charges, so its line adds nothing and
    -- tax_amount says how much of them it is.
    select
        invoice_id,
        6 as line_section,
        tax_rate_id as line_group,
        0 as line_order,
        cast(null as {{ dbt.type_string() }}) as price_id,
        cast(null as {{ dbt.type_string() }}) as credit_grant_id,
        cast(null as {{ dbt.type_string() }}) as metric_name,
        cast(null as {{ dbt.type_string() }}) as group_value,
        cast(null as {{ dbt.type_string() }}) as adjusted_invoice_id,
        case when is_inclusive then 'tax_included' else 'tax' end as line_type,
        description,
        cast(null as {{ dbt.type_int() }}) as tier,
        cast(taxable_amount as {{ usage_billing.type_decimal() }}) as quantity,
        cast({{ usage_billing.divide_exact('percentage', '100', 10) }} as {{ usage_billing.type_decimal() }})
            as unit_price,
        cast(0 as {{ usage_billing.type_decimal() }}) as flat_amount,
        cast(case when is_inclusive then 0 else tax_amount end as {{ usage_billing.type_decimal() }}) as amount,
        true as is_percentage,
        cast(null as {{ usage_billing.type_decimal() }}) as tier_first_unit,
        cast(null as {{ usage_billing.type_decimal() }}) as tier_last_unit,
        tax_rate_id,
        cast(tax_amount as {{ usage_billing.type_decimal() }}) as tax_amount
    from taxes

)

select * from final
