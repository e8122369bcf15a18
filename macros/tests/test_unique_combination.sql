{#- Fails with the combinations of `columns` that occur more than once; nulls count as a value,
    so two rows with the same key and an empty group are duplicates too. -#}
{% test unique_combination(model, columns) %}

with keyed as (

    select
        {% for column in columns -%}
            coalesce(cast({{ column }} as {{ dbt.type_string() }}), '<null>') as {{ column }},
        {% endfor -%}
        1 as one
    from {{ model }}

)

select
    {% for column in columns -%}
        {{ column }},
    {% endfor -%}
    count(*) as occurrences
from keyed
group by
    {% for column in columns -%}
        {{ column }}{{ "," if not loop.last }}
    {% endfor %}
having count(*) > 1

{% endtest %}
