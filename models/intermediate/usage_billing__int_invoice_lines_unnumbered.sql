{#- Every invoice's lines as this build computes them, before numbering, in one shape: prices,
    the commitment true-up, discounts, late-usage adjustments of closed periods, what threshold
    invoices of the period billed already, prepaid credit bought, prepaid credit drawn, then tax.
    line_section, line_group and line_order give their order on the invoice
    (int_invoice_lines_computed numbers them). -#}
{{ config(materialized='ephemeral') }}
{%- set credit_words = "case when credit_draws.grant_type = 'promotional' then 'Promotional credit '"
    ~ " else 'Prepaid credit ' end" %}

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

threshold_billed as (

    select * from {{ ref('usage_billing', 'usage_billing__int_threshold_billed') }}

),

adjustments as (

    select * from {{ ref('usage_billing', 'usage_billing__int_late_usage_adjustments') }}

),

credit_purchases as (

    select * from {{ ref('usage_billing', 'usage_billing__int_credit_purchases') }}

),

metric_definitions as (

    select * from {{ ref('usage_billing', 'usage_billing__int_metric_definitions') }}

),

final as (

    -- Prices; with parent accounts, the parent's own lines first (line_group ''), then each
    -- child's by its customer id.
    select
        {{- usage_billing.unnumbered_line({
            'invoice_id': 'invoice_id', 'line_section': '1', 'line_order': 'line_order',
            'line_group': "coalesce(child_customer_id, '')", 'child_customer_id': 'child_customer_id',
            'price_id': 'price_id', 'metric_name': 'metric_name', 'group_value': 'group_value',
            'line_type': 'line_type', 'description': 'description', 'tier': 'tier',
            'quantity': 'quantity', 'unit_price': 'unit_price', 'flat_amount': 'flat_amount',
            'amount': 'amount', 'is_percentage': 'is_percentage',
            'tier_first_unit': 'tier_first_unit', 'tier_last_unit': 'tier_last_unit',
            'billing_timing': 'billing_timing',
        }) }}
    from price_lines

    union all

    select
        {{- usage_billing.unnumbered_line({
            'invoice_id': 'invoice_id', 'line_section': '2', 'line_type': 'line_type',
            'description': 'description', 'quantity': 'quantity', 'unit_price': 'unit_price',
            'amount': 'amount',
        }) }}
    from commitment_lines

    union all

    -- Discounts, after the charges they reduce, before credit: a negative line each, shown as
    -- base x rate when a percentage was taken whole.
    select
        {{- usage_billing.unnumbered_line({
            'invoice_id': 'invoice_id', 'line_section': '3', 'line_group': 'discount_id',
            'metric_name': 'metric_name', 'line_type': "'discount'", 'description': 'description',
            'quantity': 'case when is_percentage then base_amount else 1 end',
            'unit_price': 'case when is_percentage then 0 - '
                ~ usage_billing.divide_exact('percent_off', '100', 10) ~ ' else 0 - discount_amount end',
            'amount': '0 - discount_amount', 'is_percentage': 'is_percentage',
        }) }}
    from discounts

    union all

    -- Late usage of a closed period, billed here (docs/closing-periods.md): one settled amount
    -- per price, before credit so that credit may pay it.
    select
        {{- usage_billing.unnumbered_line({
            'invoice_id': 'target_invoice_id', 'line_section': '4', 'line_group': 'adjusted_invoice_id',
            'price_id': 'price_id', 'metric_name': 'metric_name', 'group_value': 'group_value',
            'adjusted_invoice_id': 'adjusted_invoice_id', 'line_type': "'late_usage_adjustment'",
            'description': 'description', 'quantity': '1', 'unit_price': 'amount', 'amount': 'amount',
        }) }}
    from adjustments
    where target_invoice_id is not null

    union all

    -- Threshold invoices of the period (docs/usage-controls.md, "Threshold billing"): each
    -- one's pre-tax subtotal taken off, before credit and tax, which see only the rest.
    select
        {{- usage_billing.unnumbered_line({
            'invoice_id': 'invoice_id', 'line_section': '5', 'line_order': 'threshold_sequence',
            'adjusted_invoice_id': 'threshold_invoice_id', 'line_type': "'threshold_billed'",
            'description': 'description', 'quantity': '1',
            'unit_price': '0 - billed_amount', 'amount': '0 - billed_amount',
        }) }}
    from threshold_billed

    union all

    -- Credit bought (a paid grant's purchase_amount), on the invoice whose period holds its
    -- granted_at: a charge, never discounted nor paid by credit.
    select
        {{- usage_billing.unnumbered_line({
            'invoice_id': 'invoice_id', 'line_section': '6', 'line_group': 'grant_id',
            'credit_grant_id': 'grant_id', 'line_type': "'credit_purchase'",
            'description': dbt.concat(["'Prepaid credit purchase '", 'grant_id']),
            'quantity': '1', 'unit_price': 'purchase_amount', 'amount': 'purchase_amount',
        }) }}
    from credit_purchases
    where invoice_id is not null

    union all

    -- Prepaid credit drawn by a final invoice, a negative line per grant, named by its type
    -- ("Promotional credit" or "Prepaid credit"); its metric by its display name (an invoice
    -- never shows a raw metric key).
    select
        {{- usage_billing.unnumbered_line({
            'invoice_id': 'credit_draws.invoice_id', 'line_section': '7',
            'line_order': 'credit_draws.grant_rank', 'credit_grant_id': 'credit_draws.grant_id',
            'metric_name': 'credit_draws.metric_name', 'line_type': "'credit'",
            'description': 'case when credit_draws.metric_name is null then '
                ~ dbt.concat([credit_words, 'credit_draws.grant_id']) ~ ' else '
                ~ dbt.concat([
                    credit_words, 'credit_draws.grant_id', "' ('",
                    'coalesce(metric_definitions.display_name, credit_draws.metric_name)', "' only)'",
                ]) ~ ' end',
            'quantity': '1', 'unit_price': '0 - credit_draws.credit_amount',
            'amount': '0 - credit_draws.credit_amount',
        }) }}
    from credit_draws
    left join metric_definitions
        on credit_draws.metric_name = metric_definitions.metric_name

    union all

    -- Tax, last (docs/invoices.md, "Tax"): base x rate, a line per rate. An exclusive tax adds
    -- its amount; an inclusive one is already in the charges, so its line adds nothing and
    -- tax_amount says how much of them it is.
    select
        {{- usage_billing.unnumbered_line({
            'invoice_id': 'invoice_id', 'line_section': '8', 'line_group': 'tax_rate_id',
            'line_type': "case when is_inclusive then 'tax_included' else 'tax' end",
            'description': 'description', 'quantity': 'taxable_amount',
            'unit_price': usage_billing.divide_exact('percentage', '100', 10),
            'amount': 'case when is_inclusive then 0 else tax_amount end', 'is_percentage': 'true',
            'tax_rate_id': 'tax_rate_id', 'tax_amount': 'tax_amount',
        }) }}
    from taxes

)

select * from final
