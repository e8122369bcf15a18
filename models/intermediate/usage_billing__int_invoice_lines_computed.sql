{#- Every invoice's lines as this build computes them (int_invoice_lines_unnumbered), numbered.
    invoice_lines shows these for every invoice that is not frozen (closed_invoice_lines keeps
    the others). -#}

with lines as (

    select * from {{ ref('usage_billing', 'usage_billing__int_invoice_lines_unnumbered') }}

),

billing_periods as (

    select * from {{ ref('usage_billing', 'usage_billing__int_billing_periods') }}

),

numbered as (

    select
        lines.*,
        billing_periods.currency,
        -- Prices first (the parent's own, then each child's, by child: line_group; inside, by price
        -- id, then tier, minimum and cap), the commitment, discounts (by id), late-usage
        -- adjustments (by the period adjusted, then price), threshold invoices netted, credits,
        -- then tax (by rate).
        row_number() over (
            partition by lines.invoice_id
            order by lines.line_section, lines.line_group, coalesce(lines.price_id, ''), lines.line_order
        ) as line_number
    from lines
    inner join billing_periods
        on lines.invoice_id = billing_periods.invoice_id

),

final as (

    select
        {{ dbt.concat(['invoice_id', "'#'", 'cast(line_number as ' ~ dbt.type_string() ~ ')']) }} as invoice_line_id,
        invoice_id,
        line_number,
        line_type,
        price_id,
        credit_grant_id,
        metric_name,
        group_value,
        adjusted_invoice_id,
        description,
        tier,
        -- One exact type on every engine (PostgreSQL would otherwise keep each value's own
        -- scale, which shows in the text the invoice's content_hash is taken of).
        cast(quantity as {{ usage_billing.type_decimal() }}) as quantity,
        cast(unit_price as {{ usage_billing.type_decimal() }}) as unit_price,
        cast(flat_amount as {{ usage_billing.type_decimal() }}) as flat_amount,
        cast(amount as {{ usage_billing.type_decimal() }}) as amount,
        currency,
        is_percentage,
        tier_first_unit,
        tier_last_unit,
        tax_rate_id,
        tax_amount,
        billing_timing,
        child_customer_id
    from numbered

)

select * from final
