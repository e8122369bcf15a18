{#- True when the engine's incremental models can replace the rows of the keys they recompute
    (the delete+insert strategy, or a delete before an append; on Spark's own tables by
    partition: macros/incremental/spark_partitions.sql; on BigQuery in a transaction:
    macros/incremental/bigquery_transaction.sql); false rebuilds the event-level models in full
    on every run (usage_materialization), which bills the same. -#}
{% macro can_replace_rows() %}
    {{- return(adapter.dispatch('can_replace_rows', 'usage_billing')()) -}}
{% endmacro %}

{% macro default__can_replace_rows() -%}
    {{- return(true) -}}
{%- endmacro %}

{#- Databricks' Delta tables can (its adapter has delete+insert). -#}
{% macro databricks__can_replace_rows() -%}
    {{- return(true) -}}
{%- endmacro %}
