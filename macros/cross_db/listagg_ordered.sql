{#- The `measure` texts of a group joined by `delimiter`, ordered by `order_by` (a column or
    expression), the same on every engine. -#}
{% macro listagg_ordered(measure, delimiter, order_by) %}
    {{- return(adapter.dispatch('listagg_ordered', 'usage_billing')(measure, delimiter, order_by)) -}}
{% endmacro %}

{% macro default__listagg_ordered(measure, delimiter, order_by) -%}
    {{ dbt.listagg(measure, delimiter, 'order by ' ~ order_by) }}
{%- endmacro %}

{#- Spark and Databricks: dbt.listagg ignores the order there (collect_list keeps none), so the
    (key, text) pairs are sorted before the texts are joined. -#}
{% macro spark__listagg_ordered(measure, delimiter, order_by) -%}
    array_join(
        transform(
            array_sort(collect_list(named_struct('sort_key', {{ order_by }}, 'text', {{ measure }}))),
            item -> item.text
        ),
        {{ delimiter }}
    )
{%- endmacro %}
