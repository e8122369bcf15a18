{#- Whether the engine replaces an incremental model's rows in one statement that reads the
    model's query once. dbt-databricks runs `delete+insert` as `insert … replace on` from DBR
    17.1; before, as a `delete`, then an `insert` from a temporary view, which runs the query
    again after the delete: the models that read their stored rows (int_usage_events_validated,
    int_usage_by_billing_period, metric_usage_daily) would insert rows computed without them.
    Every other adapter stages the rows in a table first, or deletes in a pre-hook. -#}
{% macro replaces_rows_in_one_statement() %}
    {{- return(adapter.dispatch('replaces_rows_in_one_statement', 'usage_billing')()) -}}
{% endmacro %}

{% macro default__replaces_rows_in_one_statement() -%}
    {{- return(true) -}}
{%- endmacro %}

{% macro databricks__replaces_rows_in_one_statement() -%}
    {{- return(adapter.has_dbr_capability('replace_on')) -}}
{%- endmacro %}

{#- Pre-hook guard of the incremental models: an incremental run where the rows cannot be
    replaced in one statement stops with what to do instead of billing wrong amounts. -#}
{% macro require_rows_replaced_in_one_statement() %}
    {%- if execute and is_incremental() and not usage_billing.replaces_rows_in_one_statement() -%}
        {{- exceptions.raise_compiler_error(
            'usage_billing: ' ~ this ~ ' cannot be built incrementally on this compute: dbt-databricks'
            ~ ' replaces its rows in one statement (insert ... replace on) only on Databricks Runtime'
            ~ ' 17.1 or later. Use such a cluster or SQL warehouse, or build with --full-refresh.'
        ) -}}
    {%- endif -%}
{% endmacro %}
