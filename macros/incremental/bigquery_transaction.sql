{#- Incremental builds on BigQuery. dbt-bigquery has merge, insert_overwrite and microbatch, and
    takes no strategy of a package's: merge needs a key unique per row and deletes nothing, and
    a pre-hook delete cannot stand in, because the models read the stored rows they replace.
    BigQuery runs a script of statements as one query, and in it a transaction of DML and
    temporary tables; so an incremental run is one script: the pre-hooks' deletes, the model's
    rows staged in a temporary table, the stored rows of their keys deleted, the staged rows
    inserted, the post-hooks' build state, all committed at once or (a failure, a stopped job)
    not at all. docs/decisions.md 29. -#}

{% materialization usage_billing_transaction, adapter='bigquery' %}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set existing = load_cached_relation(this) -%}
    {%- set incremental = existing is not none and usage_billing.is_incremental_build() -%}
    {#- Hooks declared outside the transaction (before_begin, after_commit) run on their own. -#}
    {%- do usage_billing.run_each(usage_billing.hook_statements(pre_hooks, inside_transaction=false)) -%}
    {%- if incremental -%}
        {%- set unique_key = config.get('unique_key') -%}
        {#- Named after the model: BigQuery keeps a temporary table to its script, but the
            emulator the tests use keeps all on one DuckDB connection (docs/engines.md). -#}
        {%- set new_rows = adapter.quote(this.identifier ~ '__new_rows') -%}
        {%- set columns = [] -%}
        {%- for column in adapter.get_columns_in_relation(target_relation) -%}
            {%- do columns.append(adapter.quote(column.name)) -%}
        {%- endfor -%}
        {#- Rendered before the script starts: the pre-hook creates the state tables there (no
            such DDL may run inside a transaction) and both read the build state as it is. -#}
        {%- set pre_statements = usage_billing.hook_statements(pre_hooks) -%}
        {%- set post_statements = usage_billing.hook_statements(post_hooks) -%}
        {%- call statement('main') -%}
            begin transaction;
            {%- for statement in pre_statements %}
            {{ statement }};
            {%- endfor %}
            create temp table {{ new_rows }} as (
                {{ sql }}
            );
            {%- if unique_key %}
            delete from {{ target_relation }}
            where {{ unique_key }} in (select {{ unique_key }} from {{ new_rows }});
            {%- endif %}
            insert into {{ target_relation }} ({{ columns | join(', ') }})
            select {{ columns | join(', ') }} from {{ new_rows }};
            {%- for statement in post_statements %}
            {{ statement }};
            {%- endfor %}
            commit transaction;
        {%- endcall -%}
    {%- else -%}
        {#- A first build or --full-refresh: the table is created whole (`create or replace`, which
            no transaction may hold), then its state row written. The old state row goes first,
            so a run stopped in between leaves none, and the next run rebuilds in full rather
            than add to rows that already hold what it would add. -#}
        {%- if existing is not none -%}
            {%- do usage_billing.forget_build_state(model.name) -%}
            {%- if existing.is_view -%}{%- do adapter.drop_relation(existing) -%}{%- endif -%}
        {%- endif -%}
        {%- do usage_billing.run_in_transaction(usage_billing.hook_statements(pre_hooks)) -%}
        {%- call statement('main') -%}
            {{ create_table_as(False, target_relation, sql) }}
        {%- endcall -%}
        {%- do usage_billing.run_in_transaction(usage_billing.hook_statements(post_hooks)) -%}
    {%- endif -%}
    {%- do usage_billing.run_each(usage_billing.hook_statements(post_hooks, inside_transaction=false)) -%}
    {%- do apply_grants(target_relation, config.get('grants'), should_revoke(existing, full_refresh_mode=not incremental)) -%}
    {%- do persist_docs(target_relation, model) -%}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}

{#- The hooks inside (or outside) the transaction rendered now, each a statement or several
    (build_state.sql's run_statements); the no-op `select 1` left out. -#}
{% macro hook_statements(hooks, inside_transaction=true) %}
    {%- set statements = [] -%}
    {%- for hook in hooks | selectattr('transaction', 'equalto', inside_transaction) -%}
        {%- set rendered = render(hook.get('sql')) | trim -%}
        {%- if rendered not in ['', 'select 1'] -%}{%- do statements.append(rendered) -%}{%- endif -%}
    {%- endfor -%}
    {{ return(statements) }}
{% endmacro %}

{% macro run_each(statements) %}
    {%- for statement in statements -%}{%- do run_query(statement) -%}{%- endfor -%}
{% endmacro %}

{% macro run_in_transaction(statements) %}
    {%- if statements -%}
        {%- do run_query('begin transaction;\n' ~ statements | join(';\n') ~ ';\ncommit transaction;') -%}
    {%- endif -%}
{% endmacro %}

{#- Deletes `model_name`'s build state row, if the state table exists. -#}
{% macro forget_build_state(model_name) %}
    {%- set state = usage_billing.build_state_relation() -%}
    {%- if usage_billing.table_exists(state) -%}
        {%- do run_query('delete from ' ~ state ~ " where model_name = '" ~ model_name ~ "'") -%}
    {%- endif -%}
{% endmacro %}
