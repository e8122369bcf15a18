{#- Build state: what the stored rows of each event-level incremental model were computed from,
    so that a run catches up from the state it finds, not from its own start alone (docs/
    build-guarantees.md). One row per model in `usage_billing__build_state`, written by the
    model's post-hook in the same transaction as its rows:
    - fingerprint: a hash of the definitions its rows depend on (definitions_fingerprint);
    - consumed_through: the newest processed_at of int_usage_events_validated its rows reflect
      (for validated itself, its own newest processed_at);
    - previous_through: validated only, its consumed_through before the run that set the current
      one: a later model that consumed that much can apply validated's newest changes as deltas,
      because their replaced_* columns name the versions it stored;
    - built_run / rebuilt_run: the dbt run that last wrote the rows, and that last rebuilt them in
      full (then every model built from them must rebuild too).
    A run interrupted anywhere leaves each model's rows and state row consistent; the next run
    reads the state and catches up (build_mode). -#}

{% macro build_state_relation() %}
    {{- return(api.Relation.create(
        database=this.database, schema=this.schema, identifier='usage_billing__build_state', type='table'
    )) -}}
{% endmacro %}

{#- The aliases as the last run of int_usage_events_validated billed them: an alias that now
    names another customer (or none) has its events checked again. -#}
{% macro billed_aliases_relation() %}
    {{- return(api.Relation.create(
        database=this.database, schema=this.schema, identifier='usage_billing__billed_aliases', type='table'
    )) -}}
{% endmacro %}

{#- Whether the table exists, as dbt's relation cache knows it (filled at the start of the run):
    a state table that a pre-hook of this run created reads as absent, so the models after it
    rebuild in full once, which a run that had no state must do anyway. -#}
{% macro table_exists(relation) %}
    {{- return(adapter.get_relation(
        database=relation.database, schema=relation.schema, identifier=relation.identifier
    ) is not none) -}}
{% endmacro %}

{#- Every model's state row as a dict by model name; empty before the first run that wrote one
    (and at parse time). `fingerprint_matches` compares the row's fingerprint with what
    `model_name`'s definitions hash to now (meaningful on its own row). -#}
{% macro stored_build_state(model_name) %}
    {%- set states = {} -%}
    {#- Engines that rebuild these models in full every run keep no state. -#}
    {%- if not execute or usage_billing.usage_materialization() == 'table' -%}{{ return(states) }}{%- endif -%}
    {%- set state = usage_billing.build_state_relation() -%}
    {%- if not usage_billing.table_exists(state) -%}{{ return(states) }}{%- endif -%}
    {%- set rows = run_query(
        "select model_name, fingerprint = '" ~ usage_billing.definitions_fingerprint(model_name)
        ~ "' as fingerprint_matches, consumed_through, previous_through, built_run, rebuilt_run from " ~ state
    ) -%}
    {#- Read by position: Snowflake names the result's columns in upper case, and a name that
        misses reads as undefined in Jinja (every run was then a full one there). -#}
    {%- for row in rows -%}
        {%- do states.update({row[0]: {
            'fingerprint_matches': row[1],
            'consumed_through': row[2],
            'previous_through': row[3],
            'built_run': row[4],
            'rebuilt_run': row[5],
        }}) -%}
    {%- endfor -%}
    {{ return(states) }}
{% endmacro %}

{#- A hash of what a model's stored rows depend on besides the events: when it changes, the
    model is rebuilt in full by the next normal run. int_usage_events_validated depends on the
    properties metrics read and check, the de-duplication policy and scope, the event contract
    and where and in which columns the events are; the later models on the metric definitions (descriptions aside). -#}
{% macro definitions_fingerprint(model_name) %}
    {%- set metrics = usage_billing.metric_definitions() -%}
    {%- set definitions = [] -%}
    {%- if model_name == 'usage_billing__int_usage_events_validated' -%}
        {%- for metric in metrics if not metric.get('from') -%}
            {%- do definitions.append([
                metric['name'], metric.get('aggregation'), metric.get('property'), metric.get('value'),
                metric.get('where'),
            ]) -%}
        {%- endfor -%}
        {%- do definitions.append(usage_billing.event_property_paths(metrics)) -%}
        {%- do definitions.append(var('usage_billing_dedup_policy')) -%}
        {%- do definitions.append(var('usage_billing_dedup_scope', 'customer')) -%}
        {%- do definitions.append(usage_billing.event_contract()) -%}
        {%- for name in ['event_id', 'customer_alias', 'event_type', 'event_timestamp', 'event_properties',
            'loaded_at'] -%}
            {%- do definitions.append(var('usage_billing_column_' ~ name)) -%}
        {%- endfor -%}
        {%- do definitions.append(source('usage_billing', 'usage_events') | string) -%}
        {%- do definitions.append(usage_billing.reads_parsed_properties()) -%}
    {%- else -%}
        {%- for metric in metrics -%}
            {%- set definition = {} -%}
            {%- for field, value in metric.items() if field != 'description' -%}
                {%- do definition.update({field: value}) -%}
            {%- endfor -%}
            {%- do definitions.append(definition) -%}
        {%- endfor -%}
    {%- endif -%}
    {{- return(local_md5(tojson(definitions, sort_keys=true))) -}}
{% endmacro %}

{#- How this run builds `model_name` (the model being compiled) from what it finds:
    - mode 'full': from all upstream rows, replacing every stored row: a first or --full-refresh
      build, no state row (an older version's table), changed definitions, an upstream model
      rebuilt in full since, or (later models) changes from more than the newest run of
      validated to catch up, whose replaced versions no longer show;
    - mode 'delta': only validated's rows processed after `after` (none: all) up to `through`;
    - mode 'catch_up' (int_usage_events_matched_to_metrics only): like delta, but for several
      runs' changes: every event changed since is replaced whole, by key.
    `reason` says why a run is full; it is logged. -#}
{% macro build_mode(model_name) %}
    {%- set fingerprint = usage_billing.definitions_fingerprint(model_name) -%}
    {%- set states = usage_billing.stored_build_state(model_name) -%}
    {%- set own = states.get(model_name) -%}
    {%- set validated = states.get('usage_billing__int_usage_events_validated') or {} -%}
    {%- set upstream = ['usage_billing__int_usage_events_validated'] if model_name != 'usage_billing__int_usage_events_validated' else [] -%}
    {%- if model_name in ['usage_billing__metric_usage_daily', 'usage_billing__int_usage_by_billing_period',
        'usage_billing__unbilled_usage'] -%}
        {%- do upstream.append('usage_billing__int_usage_events_matched_to_metrics') -%}
    {%- endif -%}
    {#- What the upstream model's rows reflect: a full build reads all of it, a delta up to it. -#}
    {%- set through = (states.get(upstream[-1]) or {}).get('consumed_through') if upstream else none -%}
    {%- if not usage_billing.is_incremental_build() -%}
        {{ return({'mode': 'full', 'reason': none, 'after': none, 'through': through, 'fingerprint': fingerprint}) }}
    {%- endif -%}
    {%- set reason = namespace(text=none) -%}
    {%- if own is none -%}
        {%- set reason.text = 'it has no build state (built by an older version, or the state table was dropped)' -%}
    {%- elif not own['fingerprint_matches'] -%}
        {%- set reason.text = 'the definitions its rows were computed from changed' -%}
    {%- else -%}
        {%- for name in upstream -%}
            {%- set rebuilt = (states.get(name) or {}).get('rebuilt_run') -%}
            {%- if reason.text is none and (states.get(name) is none or (rebuilt is not none and rebuilt > own['built_run'])) -%}
                {%- set reason.text = name ~ ' was rebuilt in full since its last build' -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set mode = 'full' if reason.text else 'delta' -%}
    {%- set after = own['consumed_through'] if own else none -%}
    {%- if mode == 'delta' and upstream -%}
        {#- The newest run of validated's replaced_* columns name the versions stored before it:
            correct deltas only for a model that consumed everything before that run. -#}
        {%- set previous = validated.get('previous_through') -%}
        {%- set caught_up = previous is none or (after is not none and after >= previous) -%}
        {%- if model_name != 'usage_billing__int_usage_events_matched_to_metrics' and through != validated.get('consumed_through') -%}
            {%- set caught_up = false -%}
        {%- endif -%}
        {%- if not caught_up and model_name == 'usage_billing__int_usage_events_matched_to_metrics' -%}
            {%- set mode = 'catch_up' -%}
        {%- elif not caught_up -%}
            {%- set mode = 'full' -%}
            {%- set reason.text = 'an earlier run stopped before it, leaving changes of several runs to catch up' -%}
        {%- endif -%}
    {%- endif -%}
    {{ return({'mode': mode, 'reason': reason.text, 'after': after, 'through': through, 'fingerprint': fingerprint}) }}
{% endmacro %}

{#- Says in dbt's log why a run rebuilds `model_name` in full over stored rows. -#}
{% macro log_build_mode(model_name) %}
    {%- set reason = usage_billing.build_mode(model_name)['reason'] -%}
    {%- if reason and execute -%}
        {{ log(model_name ~ ': recomputing in full because ' ~ reason ~ '.', info=true) }}
    {%- endif -%}
{% endmacro %}

{#- True when this run adds to the stored rows (delta or catch_up); false when it builds them in
    full. Models use it where they used is_incremental(). -#}
{% macro builds_on_stored_rows(model_name) %}
    {{- return(usage_billing.build_mode(model_name)['mode'] != 'full') -}}
{% endmacro %}

{#- A timestamp as a SQL literal. -#}
{% macro timestamp_literal(value) %}
    {%- if value is none -%}
        {{- return('cast(null as ' ~ dbt.type_timestamp() ~ ')') -}}
    {%- endif -%}
    {{- return("cast('" ~ value.strftime('%Y-%m-%d %H:%M:%S.%f') ~ "' as " ~ dbt.type_timestamp() ~ ")") -}}
{% endmacro %}

{#- Condition on validated's processed_at (or a column carrying it): the changes this run of
    `model_name` consumes. -#}
{% macro is_unconsumed_change(model_name, column='processed_at') %}
    {%- set mode = usage_billing.build_mode(model_name) -%}
    {%- set conditions = [column ~ ' <= ' ~ usage_billing.timestamp_literal(mode['through'])] -%}
    {%- if mode['after'] is not none -%}
        {%- do conditions.append(column ~ ' > ' ~ usage_billing.timestamp_literal(mode['after'])) -%}
    {%- endif -%}
    {{- return('(' ~ conditions | join(' and ') ~ ')') -}}
{% endmacro %}

{#- Pre-hook: create the state tables when absent and, when this run builds the model in full
    over its stored rows, delete them all (in the model's transaction, so an interrupted run
    keeps them). -#}
{% macro prepare_build_state(model_name) %}
    {%- do usage_billing.require_rows_replaced_in_one_statement() -%}
    {%- if usage_billing.usage_materialization() == 'table' -%}
        {{- return('select 1') -}}
    {%- endif -%}
    {#- On Spark's own tables the state is partitioned by model (its column then stored last), so
        a model's row is replaced by dropping its partition (they cannot delete rows). -#}
    {%- set spark = target.type == 'spark' -%}
    {%- set created = [
        'create table if not exists ' ~ usage_billing.build_state_relation() ~ ' (model_name '
        ~ dbt.type_string() ~ ', fingerprint ' ~ dbt.type_string() ~ ', consumed_through '
        ~ dbt.type_timestamp() ~ ', previous_through ' ~ dbt.type_timestamp() ~ ', built_run '
        ~ dbt.type_timestamp() ~ ', rebuilt_run ' ~ dbt.type_timestamp() ~ ')'
        ~ (' using parquet partitioned by (model_name)' if spark else ''),
        'create table if not exists ' ~ usage_billing.billed_aliases_relation() ~ ' (customer_alias '
        ~ dbt.type_string() ~ ', customer_id ' ~ dbt.type_string() ~ ')' ~ (' using parquet' if spark else ''),
    ] -%}
    {%- set statements = [] -%}
    {%- if usage_billing.is_incremental_build() and usage_billing.build_mode(model_name)['mode'] == 'full' -%}
        {%- do statements.append(usage_billing.delete_all_rows(this)) -%}
    {%- endif -%}
    {#- BigQuery runs the hooks inside the model's transaction (bigquery_transaction.sql), where
        no table may be created: the state tables are created now, before it begins. -#}
    {%- if target.type == 'bigquery' -%}
        {%- for statement in created -%}{%- do run_query(statement) -%}{%- endfor -%}
        {{- return(statements | join(';\n') or 'select 1') -}}
    {%- endif -%}
    {{- return(usage_billing.run_statements(created + statements)) -}}
{% endmacro %}

{#- Every row of a table goes: Spark's own tables cannot delete, but can be truncated; BigQuery's
    delete needs a where clause. -#}
{% macro delete_all_rows(relation) %}
    {{- return('truncate table ' ~ relation if target.type == 'spark' else 'delete from ' ~ relation ~ ' where true') -}}
{% endmacro %}

{#- A hook's statements: one text elsewhere; on Spark, which runs one statement at a time, each
    run here (the hook is rendered when it runs) and the hook itself is a no-op. -#}
{% macro run_statements(statements) %}
    {%- if target.type != 'spark' -%}{{ return(statements | join(';\n')) }}{%- endif -%}
    {%- for statement in statements -%}{%- do run_query(statement) -%}{%- endfor -%}
    {{- return('select 1') -}}
{% endmacro %}

{#- Post-hook: the model's new state row, in its transaction. -#}
{% macro record_build_state(model_name) %}
    {%- if usage_billing.usage_materialization() == 'table' -%}
        {{- return('select 1') -}}
    {%- endif -%}
    {%- set mode = usage_billing.build_mode(model_name) -%}
    {%- set own = usage_billing.stored_build_state(model_name).get(model_name) or {} -%}
    {%- set run = usage_billing.run_started_timestamp() -%}
    {%- set rebuilt_run = run if mode['mode'] == 'full' else usage_billing.timestamp_literal(own.get('rebuilt_run')) -%}
    {%- if model_name == 'usage_billing__int_usage_events_validated' -%}
        {#- Its newest processed_at is this run's, if the run wrote any; the zone maps of the
            rows just added answer that without a scan. -#}
        {%- set old_through = usage_billing.timestamp_literal(own.get('consumed_through')) -%}
        {%- set this_run = ' from (select exists (select 1 from ' ~ this ~ ' where processed_at = ' ~ run
            ~ ') as wrote_rows) as this_run' -%}
        {%- set consumed = 'case when this_run.wrote_rows then ' ~ run ~ ' else ' ~ old_through ~ ' end' -%}
        {%- set previous = 'case when this_run.wrote_rows then ' ~ old_through ~ ' else '
            ~ usage_billing.timestamp_literal(own.get('previous_through')) ~ ' end' -%}
        {%- if mode['mode'] == 'full' -%}
            {%- set previous = 'cast(null as ' ~ dbt.type_timestamp() ~ ')' -%}
        {%- endif -%}
    {%- else -%}
        {#- What the model before it had consumed (a first build may not see the state table). -#}
        {%- set upstream = 'usage_billing__int_usage_events_validated' if model_name == 'usage_billing__int_usage_events_matched_to_metrics'
            else 'usage_billing__int_usage_events_matched_to_metrics' -%}
        {%- set consumed = '(select upstream_state.consumed_through from ' ~ usage_billing.build_state_relation()
            ~ " as upstream_state where upstream_state.model_name = '" ~ upstream ~ "')" -%}
        {%- set previous = 'cast(null as ' ~ dbt.type_timestamp() ~ ')' -%}
        {%- set this_run = '' -%}
    {%- endif -%}
    {%- set values = consumed ~ ', ' ~ previous ~ ', ' ~ run ~ ', ' ~ rebuilt_run -%}
    {%- if target.type == 'spark' -%}
        {#- The model's partition replaced by a dynamic overwrite, which stages its files in a
            directory of its own: models finishing together append to the same table, and
            plain appends share one staging directory that the first to commit deletes. -#}
        {%- set statements = [
            'set spark.sql.sources.partitionOverwriteMode = dynamic',
            'insert overwrite table ' ~ usage_billing.build_state_relation() ~ ' partition (model_name)'
            ~ " select '" ~ mode['fingerprint'] ~ "', " ~ values ~ ", '" ~ model_name ~ "'" ~ this_run,
        ] -%}
    {%- else -%}
        {%- set statements = [
            'delete from ' ~ usage_billing.build_state_relation() ~ " where model_name = '" ~ model_name ~ "'",
            'insert into ' ~ usage_billing.build_state_relation()
            ~ ' (model_name, fingerprint, consumed_through, previous_through, built_run, rebuilt_run)'
            ~ " select '" ~ model_name ~ "', '" ~ mode['fingerprint'] ~ "', " ~ values ~ this_run,
        ] -%}
    {%- endif -%}
    {%- if model_name == 'usage_billing__int_usage_events_validated' -%}
        {%- do statements.append(usage_billing.delete_all_rows(usage_billing.billed_aliases_relation())) -%}
        {%- do statements.append('insert into ' ~ usage_billing.billed_aliases_relation()
            ~ ' (customer_alias, customer_id) select customer_alias, customer_id from ' ~ ref('usage_billing', 'usage_billing__stg_customer_aliases')) -%}
    {%- endif -%}
    {{- return(usage_billing.run_statements(statements)) -}}
{% endmacro %}

{#- The customers whose aliases the last run billed to them but that now name another customer
    or none: int_usage_events_validated checks their events again. -#}
{% macro repointed_alias_customers() %}
    {%- set billed = usage_billing.billed_aliases_relation() -%}
    {%- if not execute or not usage_billing.table_exists(billed) -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set rows = run_query(
        'select distinct billed.customer_id from ' ~ billed ~ ' as billed left join '
        ~ ref('usage_billing', 'usage_billing__stg_customer_aliases') ~ ' as current_aliases on billed.customer_alias = current_aliases.customer_alias'
        ~ ' where current_aliases.customer_id is null or current_aliases.customer_id <> billed.customer_id'
    ) -%}
    {{ return(rows.columns[0].values() | list) }}
{% endmacro %}
