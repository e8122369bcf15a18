{#- SQL run before the models that parse event text (pre-hooks in dbt_project.yml) that
    creates the helper functions an engine needs before any model runs. Most need none. -#}
{% macro create_engine_functions() %}
    {{- return(adapter.dispatch('create_engine_functions', 'usage_billing')()) -}}
{% endmacro %}

{% macro default__create_engine_functions() -%}
{%- endmacro %}

{#- PostgreSQL before 16 has no cast that returns null instead of raising (no try_cast, no
    IS JSON, no pg_input_is_valid): two PL/pgSQL functions catch the error instead. The
    timestamp one pins the zone to UTC (text without an offset is UTC whatever the server's
    zone) and takes only ISO 8601 dates, not PostgreSQL's words such as 'yesterday'. -#}
{% macro postgres__create_engine_functions() -%}
    create schema if not exists {{ adapter.quote(target.schema) }};
    create or replace function {{ adapter.quote(target.schema) }}.usage_billing_try_timestamp_utc(value text)
    returns timestamp language plpgsql stable set timezone = 'UTC' as $$
    begin
        if value !~ '^\s*[0-9]{4}-[0-9]{2}-[0-9]{2}' then
            return null;
        end if;
        return cast(value as timestamptz) at time zone 'UTC';
    exception when others then
        return null;
    end $$;
    create or replace function {{ adapter.quote(target.schema) }}.usage_billing_is_json_object(value text)
    returns boolean language plpgsql immutable as $$
    begin
        return jsonb_typeof(cast(value as jsonb)) = 'object';
    exception when others then
        return false;
    end $$;
{%- endmacro %}

{#- Redshift has no PL/pgSQL functions that catch errors; its overrides use built-ins instead. -#}
{% macro redshift__create_engine_functions() -%}
{%- endmacro %}
