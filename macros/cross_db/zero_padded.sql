{#- The whole number `number` as text, padded with zeros on the left to `width` digits. lpad
    cuts text longer than the width on every engine, so a longer number is left as it is. -#}
{% macro zero_padded(number, width) %}
    {%- set digits = 'cast(' ~ number ~ ' as ' ~ dbt.type_string() ~ ')' -%}
    case
        when {{ dbt.length(digits) }} >= {{ width }} then {{ digits }}
        else lpad({{ digits }}, {{ width }}, '0')
    end
{%- endmacro %}
