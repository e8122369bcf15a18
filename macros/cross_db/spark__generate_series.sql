{#- Spark: dbt's generate_series cross-joins eleven two-row unions for 1,200 numbers, a plan
    that takes Spark seconds to compile; its range() table yields the same numbers at once. -#}
{% macro spark__generate_series(upper_bound) %}
    select cast(id as {{ dbt.type_int() }}) as generated_number from range(1, {{ upper_bound }} + 1)
{% endmacro %}
