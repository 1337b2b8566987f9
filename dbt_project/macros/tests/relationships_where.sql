{#- Like `relationships`, restricted to child rows matching `from_condition`. -#}
{% test relationships_where(model, column_name, to, field, from_condition='1 = 1') %}
select child.{{ column_name }}
from {{ model }} as child
left join {{ to }} as parent
    on child.{{ column_name }} = parent.{{ field }}
where
    child.{{ column_name }} is not null
    and ({{ from_condition }})
    and parent.{{ field }} is null
{% endtest %}
