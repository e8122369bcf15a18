with lines as (

    select * from {{ ref('int_invoice_lines_priced') }}

),

billing_periods as (

    select * from {{ ref('int_billing_periods') }}

),

numbered as (

    select
        lines.*,
        billing_periods.currency,
        row_number() over (
            partition by lines.invoice_id
            order by lines.price_id, lines.group_value, lines.tier
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
        price_id,
        metric_name,
        group_value,
        description,
        tier,
        quantity,
        unit_price,
        flat_amount,
        amount,
        currency,
        is_percentage
    from numbered

)

select * from final
