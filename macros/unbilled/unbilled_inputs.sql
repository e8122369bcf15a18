{#- What the stored rows of unbilled_usage were classified against besides the events, so that a
    run finds what moved since: per customer, a hash of the billing windows (each period with
    each metric and group it prices), and the billing clock (kept in a row with no customer, so
    it is known even when no customer has a period). Written by the model's post-hook, in its
    transaction; docs/unbilled-usage.md. -#}

{% macro unbilled_inputs_relation() %}
    {{- return(api.Relation.create(
        database=this.database, schema=this.schema, identifier='usage_billing__unbilled_inputs', type='table'
    )) -}}
{% endmacro %}

{#- Each customer with a billing period, and a hash of everything the classification reads of
    their windows: a subscription, a price or a period end that changes changes it. -#}
{% macro billing_windows_fingerprints() %}
    {%- set window_text = dbt.concat([
        'billing_periods.invoice_id', "'|'",
        'cast(billing_periods.period_start as ' ~ dbt.type_string() ~ ')', "'|'",
        'cast(billing_periods.period_end as ' ~ dbt.type_string() ~ ')', "'|'",
        "coalesce(priced.metric_name, '')", "'|'",
        "coalesce(priced.group_value, '')", "'|'",
        "case when priced.is_default_price then 'default' else '' end",
    ]) -%}
    {#- Per customer whose events the windows bill: a child billed on its parent's periods
        (parent accounts) has the parent's windows in its own hash. -#}
    select
        coalesce(priced.customer_id, billing_periods.customer_id) as customer_id,
        {{ dbt.hash(usage_billing.listagg_ordered(window_text, "';'", window_text)) }} as windows_fingerprint
    from {{ ref('usage_billing', 'usage_billing__int_billing_periods') }} as billing_periods
    left join {{ ref('usage_billing', 'usage_billing__int_priced_groups_by_billing_period') }} as priced
        on billing_periods.invoice_id = priced.invoice_id
    group by coalesce(priced.customer_id, billing_periods.customer_id)
{% endmacro %}

{#- Pre-hook: create the table when absent. On BigQuery now, before the model's transaction
    begins: no table may be created inside it (as prepare_build_state). -#}
{% macro prepare_unbilled_inputs() %}
    {%- if usage_billing.usage_materialization() == 'table' -%}{{ return('select 1') }}{%- endif -%}
    {%- set created = 'create table if not exists ' ~ usage_billing.unbilled_inputs_relation() ~ ' (customer_id '
        ~ dbt.type_string() ~ ', windows_fingerprint ' ~ dbt.type_string() ~ ', billing_clock_at '
        ~ dbt.type_timestamp() ~ ')' ~ (' using parquet' if target.type == 'spark' else '') -%}
    {%- if target.type == 'bigquery' -%}
        {%- do run_query(created) -%}
        {{- return('select 1') -}}
    {%- endif -%}
    {{- return(created) -}}
{% endmacro %}

{#- Post-hook: the windows and the clock this run classified against. With the clock left at
    now, the row holds the time of the hook, a little after the model's query read it. -#}
{% macro record_unbilled_inputs() %}
    {%- if usage_billing.usage_materialization() == 'table' -%}{{ return('select 1') }}{%- endif -%}
    {%- set inputs = usage_billing.unbilled_inputs_relation() -%}
    {%- set clock = usage_billing.as_of_timestamp() -%}
    {{- return(usage_billing.run_statements([
        usage_billing.delete_all_rows(inputs),
        'insert into ' ~ inputs ~ ' select customer_id, windows_fingerprint, ' ~ clock ~ ' from ('
        ~ usage_billing.billing_windows_fingerprints() ~ ') as fingerprints union all select cast(null as '
        ~ dbt.type_string() ~ '), cast(null as ' ~ dbt.type_string() ~ '), ' ~ clock,
    ])) -}}
{% endmacro %}

{#- The customers whose windows differ from those the stored rows were classified against (a
    customer with periods now or then, not both, too): every day of theirs is recomputed. -#}
{% macro unbilled_customers_to_recompute() %}
    select coalesce(current_windows.customer_id, stored.customer_id) as customer_id
    from ({{ usage_billing.billing_windows_fingerprints() }}) as current_windows
    full outer join (
        select customer_id, windows_fingerprint from {{ usage_billing.unbilled_inputs_relation() }}
        where customer_id is not null
    ) as stored
        on current_windows.customer_id = stored.customer_id
    where
        current_windows.customer_id is null
        or stored.customer_id is null
        or current_windows.windows_fingerprint <> stored.windows_fingerprint
{% endmacro %}

{#- The first day whose rows the move of the billing clock since the stored rows may change (an
    event at or after the clock is judged otherwise), as a date; none when the clock is where
    it was; 'all' when the stored clock is unknown. A day early: with the clock left at now, the
    stored one was read by the post-hook, after the query that classified the rows. Every later
    day is recomputed too, so the bound is the same in the pre-hook and the query, which read
    the time apart. -#}
{% macro unbilled_clock_moved_from() %}
    {%- set inputs = usage_billing.unbilled_inputs_relation() -%}
    {%- if not execute or not usage_billing.table_exists(inputs) -%}{{ return('all') }}{%- endif -%}
    {%- set clock = usage_billing.as_of_timestamp() -%}
    {%- set rows = run_query(
        'select max(billing_clock_at) is null, coalesce(max(billing_clock_at) = ' ~ clock ~ ', false), cast('
        ~ 'least(max(billing_clock_at), ' ~ clock ~ ') as date) from ' ~ inputs
    ).rows -%}
    {%- if rows[0][0] -%}{{ return('all') }}{%- endif -%}
    {%- if rows[0][1] -%}{{ return(none) }}{%- endif -%}
    {%- set first_day = rows[0][2] -%}
    {%- if first_day.date is defined -%}{%- set first_day = first_day.date() -%}{%- endif -%}
    {{ return(first_day - modules.datetime.timedelta(days=1)) }}
{% endmacro %}
