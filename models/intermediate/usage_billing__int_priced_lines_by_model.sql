{#- Every pricing model's lines (usage_billing__int_priced_lines_*), before a price's minimum and
    maximum: the lines int_priced_lines_adjustments totals. -#}
{{ config(materialized='ephemeral') }}

{% for model_name in usage_billing.pricing_model_line_models() -%}
    select
        {{ usage_billing.priced_line_names(model_name) }}
    from {{ ref('usage_billing', model_name) }} as {{ model_name }}
    {% if not loop.last %}union all{% endif %}
{% endfor %}
