{#- Late usage of closed invoices and where it is billed (docs/closing-periods.md): one row per
    closed invoice and price whose cost changed since it was frozen. `target_invoice_id` names the
    invoice carrying the adjustment line; `unbilled` rows have no open invoice to go on (the
    subscription has ended) and wait here, never dropped. -#}

with adjustments as (

    select * from {{ ref('usage_billing', 'usage_billing__int_late_usage_adjustments') }}

),

billing_periods as (

    select * from {{ ref('usage_billing', 'usage_billing__int_billing_periods') }}

),

final as (

    select
        adjustments.adjustment_id,
        adjustments.adjusted_invoice_id,
        adjustments.target_invoice_id,
        adjustments.subscription_id,
        adjustments.customer_id,
        adjustments.currency,
        adjustments.price_id,
        adjustments.metric_name,
        adjustments.group_value,
        adjustments.description,
        adjustments.current_amount,
        adjustments.frozen_amount,
        adjustments.billed_before_amount,
        adjustments.amount,
        targets.status as target_status,
        case when adjustments.target_invoice_id is null then 'unbilled' else 'on_invoice' end as status
    from adjustments
    left join billing_periods as targets
        on adjustments.target_invoice_id = targets.invoice_id

)

select * from final
