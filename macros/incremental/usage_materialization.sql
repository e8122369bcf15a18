{#- Event-level models are incremental when the raw table has a loaded_at column (each run
    reads the rows loaded since the last one) and the engine can replace rows
    (usage_billing.can_replace_rows: not BigQuery, not Spark's own tables); else they are
    rebuilt in full. -#}
{% macro usage_materialization() %}
    {%- set incremental = var('usage_billing_column_loaded_at') and usage_billing.can_replace_rows() -%}
    {{ return('incremental' if incremental else 'table') }}
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
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ condition }}
    {%- else -%}
        select 1
    {%- endif -%}
{% endmacro %}
