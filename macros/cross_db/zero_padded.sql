{#- The whole number `number` as text, padded with zeros on the left to `width` digits (at most
    18, as usage_billing_issuers allows); a longer number is left as it is. Not lpad: the
    Snowflake emulator finds no lpad taking the 64-bit width Snowflake's integers become. -#}
{% macro zero_padded(number, width) %}
    {%- set digits = 'cast(' ~ number ~ ' as ' ~ dbt.type_string() ~ ')' -%}
    case
        when {{ dbt.length(digits) }} >= {{ width }} then {{ digits }}
        else {{ dbt.right(dbt.concat(["'000000000000000000'", digits]), width) }}
    end
{%- endmacro %}
