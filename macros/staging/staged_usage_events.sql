{#- The raw events of `relation` renamed by the column vars, cast (timestamps of the event
    contract's forms parsed to UTC, docs/events.md) and
    keyed: stg_usage_events over the whole source, and incremental runs over just the rows they
    re-check, so both read events the same way. -#}
{% macro staged_usage_events(relation) %}
    {#- Each column var is a column name, quoted as given (a name with a quote or a space is
        still one column, never SQL). -#}
    {%- set column = usage_billing.raw_event_column -%}
    {%- set id_column = column('event_id') -%}
    {%- set timestamp_text = 'cast(' ~ column('event_timestamp') ~ ' as ' ~ dbt.type_string() ~ ')' -%}
    {%- set loaded_at_column = column('loaded_at') -%}
    {%- set loaded_at = 'cast(' ~ loaded_at_column ~ ' as ' ~ dbt.type_timestamp() ~ ')' if loaded_at_column
        else 'cast(null as ' ~ dbt.type_timestamp() ~ ')' -%}
    {%- set text_of = {
        'event_id': 'cast(' ~ id_column ~ ' as ' ~ dbt.type_string() ~ ')',
        'customer_alias': 'cast(' ~ column('customer_alias') ~ ' as ' ~ dbt.type_string() ~ ')',
        'event_type': 'cast(' ~ column('event_type') ~ ' as ' ~ dbt.type_string() ~ ')',
        'event_properties': 'cast(' ~ column('event_properties') ~ ' as ' ~ dbt.type_string() ~ ')',
    } -%}
    select
        {{ text_of['event_id'] }} as event_id,
        {{ text_of['customer_alias'] }} as customer_alias,
        {{ text_of['event_type'] }} as event_type,
        {{ timestamp_text }} as event_timestamp_text,
        {{ usage_billing.event_timestamp_utc(timestamp_text) }} as event_at,
        -- Spaces only are no properties, as an empty CSV cell is ({} by the contract).
        case
            when {{ usage_billing.is_blank_text(text_of['event_properties']) }} then null
            else {{ text_of['event_properties'] }}
        end as event_properties,
        {{ loaded_at }} as loaded_at,
        -- The key repeats share; a row without an event_id is keyed by its own content.
        coalesce(
            {{ text_of['event_id'] }},
            {{ dbt.concat([
                "'row:'",
                dbt.hash(dbt.concat([
                    "coalesce(" ~ text_of['customer_alias'] ~ ", '')", "'|'",
                    "coalesce(" ~ text_of['event_type'] ~ ", '')", "'|'",
                    "coalesce(" ~ timestamp_text ~ ", '')", "'|'",
                    "coalesce(" ~ text_of['event_properties'] ~ ", '')", "'|'",
                    "coalesce(cast(" ~ loaded_at ~ " as " ~ dbt.type_string() ~ "), '')",
                ])),
            ]) }}
        ) as event_key
    from {{ relation }}
{% endmacro %}

{#- The raw events table's column that holds `field`, by its var, as written in SQL; none when
    the var is null (loaded_at may be). -#}
{% macro raw_event_column(field) %}
    {%- set name = var('usage_billing_column_' ~ field) -%}
    {{- return(usage_billing.quote_column(name) if name else none) -}}
{% endmacro %}
