{#- Every pricing model's lines with in-advance usage settled (docs/pricing.md, "In-advance
    usage"): an in-advance usage price's lines of its start level stay, prorated as a flat fee
    is for a cut period; the lines of its peak level (a period that has ended) are not shown but
    priced the same way, and what they add up to beyond the start level's lines is a
    `usage_true_up` line. A decrease is not refunded: it lowers the next period's start level.
    The lines int_priced_lines_adjustments totals and int_invoice_lines_priced shows. -#}
{{ config(materialized='ephemeral') }}

with model_lines as (

    select * from {{ ref('usage_billing', 'usage_billing__int_priced_lines_by_model') }}

),

priced_usage as (

    select * from {{ ref('usage_billing', 'usage_billing__int_prices_with_usage') }}

),

metric_definitions as (

    select * from {{ ref('usage_billing', 'usage_billing__int_metric_definitions') }}

),

in_advance_prices as (

    select
        invoice_id,
        price_id,
        service_days,
        full_period_days,
        minor_units,
        is_prorated and service_days < full_period_days as is_prorated_here
    from priced_usage
    where usage_level = 'start'

),

level_lines as (

    -- A level's lines, prorated line by line as a flat fee is: the rate (and the tier's flat
    -- amount) over the days served.
    select
        model_lines.*,
        case
            when in_advance_prices.is_prorated_here
                then {{ usage_billing.prorated_description('model_lines.description') }}
            else model_lines.description
        end as level_description,
        -- Cast back to money: Spark widens a case or a difference of money beyond 38 digits
        -- and drops a decimal place to fit, which the union below would impose on every line.
        cast(case
            when in_advance_prices.is_prorated_here
                then {{ usage_billing.prorated_amount(usage_billing.add_exact(
                    usage_billing.multiply_exact('model_lines.quantity', 'coalesce(model_lines.unit_price, 0)'),
                    'model_lines.flat_amount',
                    20,
                )) }}
            else model_lines.amount
        end as {{ usage_billing.type_decimal() }}) as level_amount
    from model_lines
    inner join in_advance_prices
        on
            model_lines.invoice_id = in_advance_prices.invoice_id
            and model_lines.price_id = in_advance_prices.price_id

),

true_ups as (

    select
        invoice_id,
        price_id,
        metric_name,
        group_value,
        cast(
            sum(case when usage_level = 'peak' then level_amount else 0 end)
            - sum(case when usage_level = 'start' then level_amount else 0 end)
            as {{ usage_billing.type_decimal() }}
        ) as true_up_amount,
        count(case when usage_level = 'peak' then 1 end) as peak_line_count
    from level_lines
    group by invoice_id, price_id, metric_name, group_value

),

final as (

    select
        {{ usage_billing.priced_line_names('model_lines') }}
    from model_lines
    where model_lines.usage_level is null

    union all

    select
        {{ usage_billing.priced_line_select({
            'line_order': 'line_order',
            'description': 'level_description',
            'tier': 'tier',
            'flat_amount': 'flat_amount',
            'amount': 'level_amount',
            'tier_first_unit': 'tier_first_unit',
            'tier_last_unit': 'tier_last_unit',
        }) }}
    from level_lines
    where usage_level = 'start'

    union all

    -- The parent's own: in-advance levels are not priced per child (int_prices_with_usage).
    select
        {{ usage_billing.priced_line_select({
            'line_type': "'usage_true_up'",
            'line_order': '999',
            'description': dbt.concat([
                'coalesce(metric_definitions.display_name, true_ups.metric_name)', "' increase true-up'",
            ]),
            'metric_name': 'true_ups.metric_name',
            'quantity': 'cast(1 as ' ~ usage_billing.type_decimal() ~ ')',
            'unit_price': 'true_up_amount',
            'amount': 'true_up_amount',
            'is_percentage': 'false',
            'billing_timing': "'in_arrears'",
            'usage_level': 'cast(null as ' ~ dbt.type_string() ~ ')',
            'child_customer_id': 'cast(null as ' ~ dbt.type_string() ~ ')',
        }) }}
    from true_ups
    left join metric_definitions
        on true_ups.metric_name = metric_definitions.metric_name
    where true_ups.peak_line_count > 0 and true_ups.true_up_amount > 0

)

select * from final
