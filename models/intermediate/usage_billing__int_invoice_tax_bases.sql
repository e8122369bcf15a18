{#- What each invoice's tax is taken of, per tax code (docs/invoices.md, "Tax"): its charges of
    that code less its share of the discounts, threshold invoices netted and prepaid credit. A discount or credit scoped to
    a price or a metric is shared among the codes of that price's or metric's charges, one on the
    whole invoice among all its codes, each in proportion to the charges (proportional_share);
    a credit purchase (code '') is taxed whole, it takes no share of a discount or credit.
    A code left below zero (two discounts on one price can take more than its charges) is
    brought to zero and its deficit taken off the other codes in proportion, so a discount never
    raises another code's base; an invoice whose charges net below zero keeps its negative bases.
    The bases of an invoice always add up to its total before tax. -#}

with invoice_charges as (

    select * from {{ ref('usage_billing', 'usage_billing__int_invoice_charges') }}

),

discounts as (

    select * from {{ ref('usage_billing', 'usage_billing__int_invoice_discounts') }}

),

threshold_billed as (

    select * from {{ ref('usage_billing', 'usage_billing__int_threshold_billed') }}

),

credit_draws as (

    select * from {{ ref('usage_billing', 'usage_billing__int_credit_draws') }}

),

billing_periods as (

    select * from {{ ref('usage_billing', 'usage_billing__int_billing_periods') }}

),

currencies as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_currencies') }}

),

reductions as (

    select
        invoice_id,
        {{ dbt.concat(["'discount:'", 'discount_id']) }} as reduction_id,
        price_id,
        metric_name,
        discount_amount as amount
    from discounts
    union all
    select
        invoice_id,
        {{ dbt.concat(["'credit:'", 'grant_id']) }} as reduction_id,
        cast(null as {{ dbt.type_string() }}) as price_id,
        metric_name,
        credit_amount as amount
    from credit_draws
    union all
    -- A threshold invoice billed part of every code: its netting is shared like an
    -- invoice-wide discount (docs/decisions.md).
    select
        invoice_id,
        {{ dbt.concat(["'threshold:'", 'threshold_invoice_id']) }} as reduction_id,
        cast(null as {{ dbt.type_string() }}) as price_id,
        cast(null as {{ dbt.type_string() }}) as metric_name,
        billed_amount as amount
    from threshold_billed

),

scope_weights as (

    -- Each reduction's charges per tax code; none matching (no charges in scope) falls to ''.
    -- A credit purchase is neither discounted nor paid by credit: it weighs nothing here.
    select
        reductions.invoice_id,
        reductions.reduction_id,
        reductions.amount,
        coalesce(invoice_charges.tax_code, '') as tax_code,
        greatest(coalesce(sum(invoice_charges.amount), 0), 0) as weight
    from reductions
    left join invoice_charges
        on
            reductions.invoice_id = invoice_charges.invoice_id
            and invoice_charges.charge_type <> 'credit_purchase'
            and (reductions.price_id is null or reductions.price_id = invoice_charges.price_id)
            and (reductions.metric_name is null or reductions.metric_name = invoice_charges.metric_name)
    group by
        reductions.invoice_id,
        reductions.reduction_id,
        reductions.amount,
        coalesce(invoice_charges.tax_code, '')

),

ranked_weights as (

    select
        *,
        sum(weight) over (
            partition by invoice_id, reduction_id order by tax_code rows between unbounded preceding and current row
        ) as weight_through,
        sum(weight) over (partition by invoice_id, reduction_id) as weight_total,
        row_number() over (partition by invoice_id, reduction_id order by tax_code) as code_position
    from scope_weights

),

shares as (

    select
        ranked_weights.invoice_id,
        ranked_weights.tax_code,
        {{ usage_billing.proportional_share(
            'ranked_weights.amount', 'ranked_weights.weight_through - ranked_weights.weight',
            'ranked_weights.weight_through', 'ranked_weights.weight_total', 'ranked_weights.code_position',
            'currencies.minor_units',
        ) }} as reduction
    from ranked_weights
    inner join billing_periods
        on ranked_weights.invoice_id = billing_periods.invoice_id
    inner join currencies
        on billing_periods.currency = currencies.currency

),

amounts as (

    select
        invoice_id,
        tax_code,
        amount as charges,
        0 as reduction
    from invoice_charges
    union all
    select
        invoice_id,
        tax_code,
        0 as charges,
        reduction
    from shares

),

nets as (

    select
        invoice_id,
        tax_code,
        sum(charges) as charges,
        sum(charges) - sum(reduction) as net
    from amounts
    group by invoice_id, tax_code

),

offsets as (

    select
        nets.*,
        currencies.minor_units,
        sum(nets.net) over (partition by nets.invoice_id) as invoice_net,
        sum(case when nets.net < 0 then 0 - nets.net else 0 end) over (partition by nets.invoice_id) as deficit,
        sum(greatest(nets.net, 0)) over (
            partition by nets.invoice_id order by nets.tax_code rows between unbounded preceding and current row
        ) as positive_through,
        sum(greatest(nets.net, 0)) over (partition by nets.invoice_id) as positive_total
    from nets
    inner join billing_periods
        on nets.invoice_id = billing_periods.invoice_id
    inner join currencies
        on billing_periods.currency = currencies.currency

),

final as (

    select
        invoice_id,
        tax_code,
        cast(charges as {{ usage_billing.type_decimal() }}) as charges,
        cast(
            case
                when deficit = 0 or invoice_net < 0 then net
                when net <= 0 then 0
                else net - {{ usage_billing.proportional_share(
                    'deficit', 'positive_through - net', 'positive_through', 'positive_total', '1', 'minor_units',
                ) }}
            end as {{ usage_billing.type_decimal() }}
        ) as taxable_amount
    from offsets

)

select * from final
