{#- The add-to-stored incremental merge, shared by the models that add a run's new events to
    the quantities they stored (metric_usage_daily, int_usage_by_billing_period,
    unbilled_usage): the stored rows the added events fall in, and the added events'
    aggregates, summed per key. A sum of sums (or counts) is the aggregate over all the
    events; null if all are null. The caller writes the result in place of the stored rows
    (delete+insert by its unique key).

    `stored` and `added` name relations (CTEs) of the rows; `columns` lists the output columns
    in order, each a (name, rule) or (name, rule, aggregate) tuple:
    - 'key': grouped by;
    - 'sum': a quantity, summed (as a decimal);
    - 'count': a count, summed (as a bigint);
    - 'min', 'max': the least or greatest of both (an earliest or latest instant);
    - 'stored': only the stored rows have it (the added ones give null): max(name), or the
      aggregate given (say, a quantity converted from the summed measured one). -#}
{% macro add_to_stored(stored, added, columns) %}
    {%- set keys = [] -%}
    {%- set outer = [] -%}
    {%- set stored_side = [] -%}
    {%- set added_side = [] -%}
    {%- for column in columns -%}
        {%- set name, rule = column[0], column[1] -%}
        {%- set aggregate = column[2] if column | length > 2 else none -%}
        {%- do stored_side.append(name) -%}
        {%- do added_side.append('null as ' ~ name if rule == 'stored' else name) -%}
        {%- if rule == 'key' -%}
            {%- do keys.append(name) -%}
            {%- do outer.append(name) -%}
        {%- elif rule == 'sum' -%}
            {%- do outer.append('cast(sum(' ~ name ~ ') as ' ~ usage_billing.type_decimal() ~ ') as ' ~ name) -%}
        {%- elif rule == 'count' -%}
            {%- do outer.append('cast(sum(' ~ name ~ ') as ' ~ dbt.type_bigint() ~ ') as ' ~ name) -%}
        {%- elif rule in ['min', 'max'] -%}
            {%- do outer.append(rule ~ '(' ~ name ~ ') as ' ~ name) -%}
        {%- elif rule == 'stored' -%}
            {%- do outer.append((aggregate or 'max(' ~ name ~ ')') ~ ' as ' ~ name) -%}
        {%- else -%}
            {{ exceptions.raise_compiler_error('add_to_stored: no rule ' ~ rule ~ ' (column ' ~ name ~ ')') }}
        {%- endif -%}
    {%- endfor -%}
    select
        {{ outer | join(',\n        ') }}
    from (
        select
            {{ stored_side | join(',\n            ') }}
        from {{ stored }}
        union all
        select
            {{ added_side | join(',\n            ') }}
        from {{ added }}
    ) as stored_and_added
    group by {{ keys | join(', ') }}
{%- endmacro %}
