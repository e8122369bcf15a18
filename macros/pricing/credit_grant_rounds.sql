{#- How many rounds the credit draw-down needs: the most grants one customer holds in one currency.
    Read from the staged grants when the model runs (so the compiled SQL has one set-based step per
    grant rank); 1 while parsing, linting, or before the grants exist. -#}
{% macro credit_grant_rounds(grants_relation) %}
    {%- if not execute -%}
        {{ return(1) }}
    {%- endif -%}
    {%- set existing = adapter.get_relation(
        database=grants_relation.database,
        schema=grants_relation.schema,
        identifier=grants_relation.identifier,
    ) -%}
    {%- if existing is none -%}
        {{ return(1) }}
    {%- endif -%}
    {%- set counted -%}
        select max(grant_count) as most_grants
        from (
            select count(*) as grant_count
            from {{ grants_relation }}
            group by customer_id, currency
        ) as grants_per_customer
    {%- endset -%}
    {%- set most_grants = run_query(counted).columns[0].values()[0] -%}
    {{ return([1, (most_grants or 0) | int] | max) }}
{% endmacro %}
