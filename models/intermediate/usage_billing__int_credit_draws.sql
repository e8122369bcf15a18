{#- Prepaid credit drawn by final invoices: one row per invoice and grant that paid part of it.

    Semantics: docs/pricing.md, "Prepaid credits". Per customer and currency, final invoices draw
    in the order their periods end; each from its usable grants by priority, promotional before
    paid, soonest expiry, granted_at, grant_id. A grant is usable by invoices ending after
    granted_at and by expires_at; with a rollover_cap also by those ending after expires_at and
    by rollover_expires_at, for at most min(what it had left at expiry, the cap), in its own rank.
    A metric's grant pays only that metric's lines; no grant and no invoice goes below zero.

    How, without recursion (a recursive term may not aggregate or use a running sum in standard
    SQL and several warehouses; older Spark has none): what a grant pays depends only on grants
    ranked before it, so grants are applied one rank at a time, each step set-based - the grant
    of that rank pays, in invoice order, what the lines it may pay still owe, up to its amount (a
    running sum). Its rollover is one more sum in the same step: the invoices after its expiry
    all come after those before it. The steps are unrolled at compile time, as many as the most
    grants one customer holds in one currency.

    Closed periods (docs/closing-periods.md): frozen invoices keep their draws and are left out;
    each grant comes in with its amount (and cap) less those draws. Frozen invoices end before
    every open one of their customer, so this is the draw-down with the frozen draws fixed. -#}

with owed_by_metric as (

    -- What each final invoice that is not frozen owes per bucket (int_credit_owed).
    select * from {{ ref('usage_billing', 'usage_billing__int_credit_owed') }}

),

credit_grants as (

    -- Amounts less what frozen invoices drew (int_credit_grants_open).
    select * from {{ ref('usage_billing', 'usage_billing__int_credit_grants_open') }}

),

{%- set rounds = usage_billing.credit_grant_rounds(ref('usage_billing', 'usage_billing__stg_credit_grants')) %}

ranked_grants as (

    select
        *,
        row_number() over (
            partition by customer_id, currency
            order by
                case when priority is null then 1 else 0 end,
                priority,
                case when grant_type = 'promotional' then 0 else 1 end,
                case when expires_at is null then 1 else 0 end,
                expires_at,
                granted_at,
                grant_id
        ) as grant_rank
    from credit_grants

),

remaining_0 as (

    select
        invoice_id,
        customer_id,
        currency,
        period_end,
        bucket,
        -- Invoices in the order their periods end; within one, fixed fees first, then metrics.
        row_number() over (
            partition by customer_id, currency
            order by period_end, invoice_id, case when bucket = '' then 0 else 1 end, bucket
        ) as owed_order,
        case when owed > 0 then owed else 0 end as remaining
    from owed_by_metric

),

{% for rank in range(1, rounds + 1) %}
    usable_{{ rank }} as (

        select
            remaining_{{ rank - 1 }}.*,
            ranked_grants.grant_id,
            ranked_grants.amount as grant_amount,
            ranked_grants.rollover_cap,
            -- 1: the invoice ends after the grant expired; only a rollover may pay it.
            case
                when ranked_grants.expires_at < remaining_{{ rank - 1 }}.period_end then 1 else 0
            end as phase,
            coalesce(
                ranked_grants.granted_at < remaining_{{ rank - 1 }}.period_end
                and (
                    ranked_grants.expires_at is null
                    or ranked_grants.expires_at >= remaining_{{ rank - 1 }}.period_end
                    or (
                        ranked_grants.rollover_cap is not null
                        and (
                            ranked_grants.rollover_expires_at is null
                            or ranked_grants.rollover_expires_at >= remaining_{{ rank - 1 }}.period_end
                        )
                    )
                )
                and (
                    ranked_grants.metric_name is null
                    or ranked_grants.metric_name = remaining_{{ rank - 1 }}.bucket
                ),
                false
            ) as is_usable
        from remaining_{{ rank - 1 }}
        left join ranked_grants
            on
                remaining_{{ rank - 1 }}.customer_id = ranked_grants.customer_id
                and remaining_{{ rank - 1 }}.currency = ranked_grants.currency
                and ranked_grants.grant_rank = {{ rank }}

    ),

    drawn_before_{{ rank }} as (

        select
            *,
            -- Still owed on the earlier lines this grant may pay in the same phase: it pays those first.
            coalesce(sum(case when is_usable then remaining else 0 end) over (
                partition by customer_id, currency, phase
                order by owed_order
                rows between unbounded preceding and 1 preceding
            ), 0) as owed_before,
            -- Owed before the grant expired, on lines it may pay: what it has left at expiry is
            -- its amount less this (the invoices before expiry all come first).
            sum(case when is_usable and phase = 0 then remaining else 0 end) over (
                partition by customer_id, currency
            ) as owed_before_expiry
        from usable_{{ rank }}

    ),

    available_{{ rank }} as (

        select
            *,
            case
                when phase = 0 then grant_amount
                when owed_before_expiry >= grant_amount then 0
                when grant_amount - owed_before_expiry > rollover_cap then rollover_cap
                else grant_amount - owed_before_expiry
            end as available
        from drawn_before_{{ rank }}

    ),

    draws_{{ rank }} as (

        select
            *,
            case
                when not is_usable or owed_before >= available then 0
                when available - owed_before < remaining then available - owed_before
                else remaining
            end as drawn
        from available_{{ rank }}

    ),

    remaining_{{ rank }} as (

        select
            invoice_id,
            customer_id,
            currency,
            period_end,
            bucket,
            owed_order,
            remaining - drawn as remaining
        from draws_{{ rank }}

    ),

{% endfor %}
all_draws as (

    {% for rank in range(1, rounds + 1) %}
        select
            invoice_id,
            grant_id,
            {{ rank }} as grant_rank,
            drawn
        from draws_{{ rank }}
        where drawn > 0
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

final as (

    select
        all_draws.invoice_id,
        all_draws.grant_id,
        all_draws.grant_rank,
        ranked_grants.customer_id,
        ranked_grants.currency,
        ranked_grants.metric_name,
        ranked_grants.grant_type,
        cast(sum(all_draws.drawn) as {{ usage_billing.type_decimal() }}) as credit_amount
    from all_draws
    inner join ranked_grants
        on all_draws.grant_id = ranked_grants.grant_id
    group by
        all_draws.invoice_id,
        all_draws.grant_id,
        all_draws.grant_rank,
        ranked_grants.customer_id,
        ranked_grants.currency,
        ranked_grants.metric_name,
        ranked_grants.grant_type

)

select * from final
