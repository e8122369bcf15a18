{#- Event-level models are incremental when the raw table has a loaded_at column (each run
    reads the rows loaded since the last one) and the engine can replace rows
    (usage_billing.can_replace_rows); else they are rebuilt in full. The package's own
    materializations replace rows where dbt's incremental one cannot: by partition on Spark's own
    tables (spark_partitions.sql), in a transaction on BigQuery (bigquery_transaction.sql). -#}
{% macro usage_materialization() %}
    {%- set incremental = var('usage_billing_column_loaded_at') and usage_billing.can_replace_rows() -%}
    {%- if incremental and target.type == 'spark' -%}{{ return('usage_billing_partitions') }}{%- endif -%}
    {%- if incremental and target.type == 'bigquery' -%}{{ return('usage_billing_transaction') }}{%- endif -%}
    {{ return('incremental' if incremental else 'table') }}
{% endmacro %}

{#- dbt's is_incremental(), also true for the package's materializations above (dbt's checks
    the materialization's name). -#}
{% macro is_incremental_build() %}
    {%- if not execute or model.config.materialized not in ['usage_billing_partitions', 'usage_billing_transaction'] -%}
        {{- return(is_incremental()) -}}
    {%- endif -%}
    {%- set relation = adapter.get_relation(this.database, this.schema, this.table) -%}
    {{- return(relation is not none and relation.type == 'table' and not should_full_refresh()) -}}
{% endmacro %}


{#- The instant this dbt invocation started, as a SQL timestamp: int_usage_events_validated
    stamps the events whose billed version this run changed with it (processed_at), and the
    build state records runs by it. -#}
{% macro run_started_timestamp() %}
    {{- return("cast('" ~ run_started_at.strftime('%Y-%m-%d %H:%M:%S.%f') ~ "' as " ~ dbt.type_timestamp() ~ ")") -}}
{% endmacro %}

{#- Pre-hook of append-only incremental models: delete the rows about to be recomputed
    (`condition` over the model's own columns). Does nothing on a first or full build. -#}
{% macro delete_rows_to_recompute(condition) %}
    {%- if usage_billing.is_incremental_build() and target.type == 'spark' -%}
        {%- do usage_billing.spark_delete_rows(this, config.get('partition_by'), condition) -%}
        select 1
    {%- elif usage_billing.is_incremental_build() -%}
        delete from {{ this }} where {{ condition }}
    {%- else -%}
        select 1
    {%- endif -%}
{% endmacro %}
