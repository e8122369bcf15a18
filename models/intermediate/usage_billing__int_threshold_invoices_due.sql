{#- The threshold invoices this build issues (docs/usage-controls.md, "Threshold billing"): a
    live period of a subscription with a threshold_billing_amount whose amount so far not yet
    invoiced reached it. The amount is the one amount thresholds watch (charges without
    credit, tax or the commitment true-up) less what the period's threshold invoices already
    billed: the period's computed lines net those (threshold_billed), so their sum is it. Each
    one bills everything not yet invoiced, so the next needs the level reached again; n is one
    more than the period's threshold invoices so far. -#}

with billing_periods as (

    select * from {{ ref('usage_billing', 'usage_billing__int_billing_periods') }}

),

subscriptions as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_subscriptions') }}

),

currencies as (

    select * from {{ ref('usage_billing', 'usage_billing__stg_currencies') }}

),

computed_lines as (

    select * from {{ ref('usage_billing', 'usage_billing__int_invoice_lines_computed') }}

),

threshold_billed as (

    select * from {{ ref('usage_billing', 'usage_billing__int_threshold_billed') }}

),

not_yet_invoiced as (

    select
        invoice_id,
        sum(amount) as amount
    from computed_lines
    where line_type not in ('credit', 'credit_purchase', 'tax', 'tax_included', 'commitment_true_up')
    group by invoice_id

),

issued_before as (

    select
        invoice_id,
        max(threshold_sequence) as last_sequence
    from threshold_billed
    group by invoice_id

),

watched as (

    select
        billing_periods.invoice_id,
        billing_periods.customer_id,
        {{ usage_billing.round_money(
            'subscriptions.threshold_billing_amount', 'currencies.minor_units'
        ) }} as threshold_billing_amount,
        coalesce(not_yet_invoiced.amount, 0) as amount_not_yet_invoiced,
        coalesce(issued_before.last_sequence, 0) + 1 as threshold_sequence
    from billing_periods
    inner join subscriptions
        on billing_periods.subscription_id = subscriptions.subscription_id
    inner join currencies
        on billing_periods.currency = currencies.currency
    left join not_yet_invoiced
        on billing_periods.invoice_id = not_yet_invoiced.invoice_id
    left join issued_before
        on billing_periods.invoice_id = issued_before.invoice_id
    -- Only while the period runs: once it ends its own invoice bills the rest.
    where billing_periods.status = 'live' and subscriptions.threshold_billing_amount > 0

),

final as (

    select
        invoice_id as threshold_of_invoice_id,
        {{ dbt.concat([
            'invoice_id', "'/t'", 'cast(threshold_sequence as ' ~ dbt.type_string() ~ ')',
        ]) }} as invoice_id,
        customer_id,
        cast(threshold_sequence as {{ dbt.type_int() }}) as threshold_sequence,
        cast(threshold_billing_amount as {{ usage_billing.type_decimal() }}) as threshold_billing_amount,
        cast(amount_not_yet_invoiced as {{ usage_billing.type_decimal() }}) as amount_not_yet_invoiced
    from watched
    where amount_not_yet_invoiced >= threshold_billing_amount

)

select * from final
