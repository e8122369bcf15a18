{#- Incremental builds on Spark's own tables (parquet, no Delta): they cannot delete or merge
    rows, but a dynamic partition overwrite (`insert overwrite table t partition (p) select …`)
    replaces just the partitions its rows fall in, and may read the table it writes (measured on
    Spark 4; a static overwrite may not). So "delete the rows matching a condition" is: rewrite
    each partition holding such a row with its other rows, and drop the partitions left with
    none (an overwrite writes no empty partition). The work is proportional to the partitions
    the changes fall in. docs/decisions.md 27. -#}

{#- The delete+insert strategy on a partitioned Spark table: the model's rows are stored apart
    first (the SQL reads the stored rows), then the stored rows of their keys are deleted as
    above, and the new rows appended. A first build, --full-refresh, or a table an older version
    built unpartitioned (always a full build then: it has no build state) is created whole. -#}
{% materialization usage_billing_partitions, adapter='spark' %}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set existing = load_cached_relation(this) -%}
    {%- set partition_column = config.require('partition_by') -%}
    {%- set unique_key = config.get('unique_key') -%}
    {{ run_hooks(pre_hooks) }}
    {%- if usage_billing.is_incremental_build()
        and not usage_billing.spark_is_partitioned_by(existing, partition_column) -%}
        {%- if usage_billing.builds_on_stored_rows(model.name) -%}
            {%- do exceptions.raise_compiler_error(this ~ ' is not partitioned by ' ~ partition_column
                ~ ': build it once with --full-refresh') -%}
        {%- endif -%}
        {%- do adapter.drop_relation(existing) -%}
        {%- set existing = none -%}
    {%- endif -%}
    {%- if existing is none or not usage_billing.is_incremental_build() -%}
        {%- if existing is not none -%}{%- do adapter.drop_relation(existing) -%}{%- endif -%}
        {%- call statement('main') -%}
            {{ create_table_as(False, target_relation, sql) }}
        {%- endcall -%}
    {%- else -%}
        {%- set new_rows = this.incorporate(path={'identifier': this.identifier ~ '__new_rows'}) -%}
        {%- do run_query('drop table if exists ' ~ new_rows) -%}
        {%- do run_query('create table ' ~ new_rows ~ ' using parquet as ' ~ sql) -%}
        {%- if unique_key -%}
            {%- do usage_billing.spark_delete_rows(target_relation, partition_column,
                unique_key ~ ' in (select ' ~ unique_key ~ ' from ' ~ new_rows ~ ')') -%}
        {%- endif -%}
        {%- call statement('main') -%}
            insert into table {{ target_relation }}
            select {{ usage_billing.spark_column_list(target_relation) }} from {{ new_rows }}
        {%- endcall -%}
        {%- do run_query('drop table if exists ' ~ new_rows) -%}
    {%- endif -%}
    {{ run_hooks(post_hooks) }}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}

{#- Delete the rows of `relation` where `condition` holds (over its columns, unaliased), by
    partition as above. -#}
{% macro spark_delete_rows(relation, partition_column, condition) %}
    {%- set touched = run_query('select distinct ' ~ partition_column ~ ' from ' ~ relation
        ~ ' where ' ~ condition).columns[0].values() | list -%}
    {%- if not touched -%}{{ return(none) }}{%- endif -%}
    {%- set in_touched = partition_column ~ ' in (' ~ usage_billing.spark_literals(touched) ~ ')' -%}
    {%- set kept = run_query('select distinct ' ~ partition_column ~ ' from ' ~ relation ~ ' where '
        ~ in_touched ~ ' and not (' ~ condition ~ ')').columns[0].values() | list -%}
    {%- for value in touched if value not in kept -%}
        {%- do run_query('alter table ' ~ relation ~ ' drop if exists partition (' ~ partition_column
            ~ ' = ' ~ usage_billing.spark_literal(value, typed=false) ~ ')') -%}
    {%- endfor -%}
    {%- if kept -%}
        {%- do run_query('set spark.sql.sources.partitionOverwriteMode = dynamic') -%}
        {%- do run_query('insert overwrite table ' ~ relation ~ ' partition (' ~ partition_column ~ ') select '
            ~ usage_billing.spark_column_list(relation) ~ ' from ' ~ relation ~ ' where ' ~ partition_column
            ~ ' in (' ~ usage_billing.spark_literals(kept) ~ ') and not (' ~ condition ~ ')') -%}
    {%- endif -%}
{% endmacro %}

{#- Whether the table exists partitioned by `column` (a table an older version built is not). -#}
{% macro spark_is_partitioned_by(relation, column) %}
    {%- if relation is none -%}{{ return(false) }}{%- endif -%}
    {%- set described = run_query('describe table ' ~ relation).columns[0].values() | list -%}
    {%- set marker = '# Partition Information' -%}
    {{ return(marker in described and column in described[described.index(marker):]) }}
{% endmacro %}

{#- The table's columns in stored order (a partition column last), quoted. -#}
{% macro spark_column_list(relation) %}
    {{- return(adapter.get_columns_in_relation(relation) | map(attribute='quoted') | join(', ')) -}}
{% endmacro %}

{#- A partition value read back as a SQL literal: typed for a comparison, plain text for a
    partition spec (`partition (p = '…')`), which Spark casts to the column's type. -#}
{% macro spark_literal(value, typed=true) %}
    {%- if value is none -%}{{ return('null') }}{%- endif -%}
    {%- set type = 'timestamp' if value.strftime is defined and value.hour is defined
        else 'date' if value.strftime is defined else none -%}
    {%- set text = value.strftime('%Y-%m-%d %H:%M:%S.%f') if type == 'timestamp'
        else value.strftime('%Y-%m-%d') if type == 'date' else value | string -%}
    {{- return(((type if typed and type else '') ~ "'" ~ text | replace('\\', '\\\\') | replace("'", "\\'") ~ "'")) -}}
{% endmacro %}

{% macro spark_literals(values) %}
    {%- set literals = [] -%}
    {%- for value in values -%}{%- do literals.append(usage_billing.spark_literal(value)) -%}{%- endfor -%}
    {{- return(literals | join(', ')) -}}
{% endmacro %}
