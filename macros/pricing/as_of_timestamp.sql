{#- The billing clock: the var usage_billing_as_of when set (to rebuild the past or test),
    else now, in UTC. Period statuses live / draft / final are judged against it. -#}
{% macro as_of_timestamp() -%}
    {%- if var('usage_billing_as_of') -%}
        cast('{{ var("usage_billing_as_of") }}' as {{ dbt.type_timestamp() }})
    {%- else -%}
        {{ usage_billing.current_timestamp_utc() }}
    {%- endif -%}
{%- endmacro %}
