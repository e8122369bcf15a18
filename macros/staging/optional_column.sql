{#- A column of a pricing table that users may leave out: the column cast to `type` when the
    relation has it, else `default` cast to `type`. Tables made before a column was added keep
    working, so a release that adds one is not a breaking change. Names compare ignoring case
    (Snowflake reports them upper-case); the column is then named as the relation spells it.
    Before execution (parsing) there is no relation to inspect: the default. -#}
{% macro optional_column(relation, column_name, type, default='null') %}
    {%- set found = [] -%}
    {%- if execute -%}
        {%- for column in adapter.get_columns_in_relation(relation) -%}
            {%- if column.name | lower == column_name | lower -%}
                {%- do found.append(column.name) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set expression = usage_billing.quote_column(found[0]) if found else default -%}
    {{- 'cast(' ~ expression ~ ' as ' ~ type ~ ')' -}}
{% endmacro %}
