{#- Ranking the repeats of a key (int_usage_events_validated's de-duplication) without sorting
    every row: a few percent of the keys repeat, and only their rows need a window. Two speed
    hints, kept out of the model: the split itself, and the flag's CTE streamed on engines that
    would store it (not_materialized). -#}

{#- CTEs `repeated_keys` (the keys of `relation` with more than one row) and
    `keyed_and_flagged` (every row of `relation`, with has_repeats). By key_hash: a collision
    only sends a single row through the exact ranking, which ranks it 1. -#}
{% macro flag_repeated_keys(relation, key) %}
repeated_keys as (

    select {{ usage_billing.key_hash(key) }} as {{ key }}_hash
    from {{ relation }}
    group by {{ usage_billing.key_hash(key) }}
    having count(*) > 1

),

-- Streamed on engines that would store it: read twice below, once per has_repeats.
keyed_and_flagged as {{ usage_billing.not_materialized() }} (

    select
        {{ relation }}.*,
        repeated_keys.{{ key }}_hash is not null as has_repeats
    from {{ relation }}
    left join repeated_keys
        on {{ usage_billing.key_hash(relation ~ '.' ~ key) }} = repeated_keys.{{ key }}_hash

)
{%- endmacro %}

{#- Every row of `relation` (flagged by flag_repeated_keys) with `rank_name`: among the rows
    where `condition` holds, row_number() over `partition_by` in `order_by` (1 for a key
    without repeats); null where it does not. Split by has_repeats so the window sorts only the
    rows of repeated keys, not every wide raw row (the costliest step after the write, at
    10 M events). -#}
{% macro rank_repeated_keys(relation, rank_name, condition, partition_by, order_by) -%}
    select
        *,
        case when {{ condition }} then cast(1 as {{ dbt.type_bigint() }}) end as {{ rank_name }}
    from {{ relation }}
    where not has_repeats

    union all

    select
        *,
        case
            when {{ condition }}
                then row_number() over (
                    partition by {{ partition_by }}
                    order by
                        {{ order_by | join(',\n                        ') }}
                )
        end as {{ rank_name }}
    from {{ relation }}
    where has_repeats
{%- endmacro %}
