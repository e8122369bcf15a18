{#- How an incremental run of unbilled_usage writes its rows (docs/unbilled-usage.md,
    "Incremental runs"): the rows of the days it recomputes as they come, and the rows of the
    new events it classified alone added to the stored rows of the same key (add_to_stored),
    so that a day's stored rows are never read again for its new events' sake. -#}

{#- The row's key as one text column, for delete+insert (some adapters delete a composite key
    column by column: metric_usage_daily's usage_day_id says why). Each free text but the last
    is prefixed by its length, so no two keys read alike. -#}
{% macro unbilled_row_id(row) %}
    {%- set parts = [row ~ '.reason', "'|'"] -%}
    {%- for column in ['metric_name', 'customer_id', 'event_type'] -%}
        {%- set text = row ~ '.' ~ column -%}
        {%- do parts.append('coalesce(' ~ dbt.concat([
            'cast(' ~ dbt.length(text) ~ ' as ' ~ dbt.type_string() ~ ')', "':'", text,
        ]) ~ ", '-')") -%}
        {%- do parts.append("'|'") -%}
    {%- endfor -%}
    {%- do parts.append('coalesce(cast(' ~ row ~ '.usage_date as ' ~ dbt.type_string() ~ "), '-')") -%}
    {%- do parts.append("case when " ~ row ~ ".is_from_relation then '|relation|' else '|events|' end") -%}
    {%- do parts.append('coalesce(' ~ dbt.concat(["'='", row ~ '.group_value']) ~ ", '-')") -%}
    {{- return(dbt.concat(parts)) -}}
{% endmacro %}

{#- CTEs ending in `final`, over `rows` (unbilled_usage's rows of this run, keyed): a row is
    added to the stored one of its key unless its day or customer is recomputed (changed_days,
    changed_customers, the clock, gauges and relation metrics), as unbilled_share chose its
    events. -#}
{% macro unbilled_rows_added_to_stored(rows) %}
    {%- set columns = ['unbilled_row_id', 'customer_id', 'reason', 'metric_name', 'group_value', 'event_type',
        'usage_date', 'event_count', 'quantity', 'first_event_at', 'last_event_at', 'is_from_relation'] -%}
    rows_flagged as (

        select
            {{ rows }}.*,
            -- Null (a relation row without a day) reads as recomputed.
            coalesce(not {{ usage_billing.is_unbilled_row_recomputed(
                rows ~ '.usage_date',
                'changed_days.customer_id is not null or changed_customers.customer_id is not null',
                rows,
            ) }}, false) as is_added
        from {{ rows }}
        left join changed_days
            on
                {{ rows }}.customer_id = changed_days.customer_id
                and {{ rows }}.usage_date = changed_days.usage_date
        left join changed_customers
            on {{ rows }}.customer_id = changed_customers.customer_id

    ),

    added as (

        select {{ columns | join(', ') }} from rows_flagged where is_added

    ),

    stored as (

        select {% for column in columns %}stored_rows.{{ column }}{{ ', ' if not loop.last }}{% endfor %}
        from {{ this }} as stored_rows
        inner join added
            on stored_rows.unbilled_row_id = added.unbilled_row_id

    ),

    merged as (

        {{ usage_billing.add_to_stored('stored', 'added', [
            ('unbilled_row_id', 'key'), ('customer_id', 'key'), ('reason', 'key'), ('metric_name', 'key'),
            ('group_value', 'key'), ('event_type', 'key'), ('usage_date', 'key'),
            ('event_count', 'count'), ('quantity', 'sum'), ('first_event_at', 'min'), ('last_event_at', 'max'),
            ('is_from_relation', 'key'),
        ]) }}

    ),

    final as (

        select {{ columns | join(', ') }} from rows_flagged where not is_added
        union all
        select {{ columns | join(', ') }} from merged

    )
{% endmacro %}
