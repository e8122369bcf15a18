{#- True when `text` matches the regular expression `pattern` somewhere (anchor it for a whole
    match); null for null text. The patterns passed here use only what every engine's regular
    expressions share: classes, groups, alternation, counted repeats, \x escapes. -#}
{% macro matches_pattern(text, pattern) %}
    {{- return(adapter.dispatch('matches_pattern', 'usage_billing')(text, pattern)) -}}
{% endmacro %}

{% macro default__matches_pattern(text, pattern) -%}
    regexp_matches({{ text }}, {{ usage_billing.string_literal(pattern) }})
{%- endmacro %}

{% macro postgres__matches_pattern(text, pattern) -%}
    ({{ text }} ~ {{ usage_billing.string_literal(pattern) }})
{%- endmacro %}

{% macro redshift__matches_pattern(text, pattern) -%}
    ({{ text }} ~ {{ usage_billing.string_literal(pattern) }})
{%- endmacro %}

{#- Snowflake's regexp_like matches the whole text; the patterns here are anchored anyway. -#}
{% macro snowflake__matches_pattern(text, pattern) -%}
    regexp_like({{ text }}, {{ usage_billing.string_literal(pattern) }})
{%- endmacro %}

{% macro bigquery__matches_pattern(text, pattern) -%}
    regexp_contains({{ text }}, {{ usage_billing.string_literal(pattern) }})
{%- endmacro %}

{% macro spark__matches_pattern(text, pattern) -%}
    ({{ text }} rlike {{ usage_billing.string_literal(pattern) }})
{%- endmacro %}
