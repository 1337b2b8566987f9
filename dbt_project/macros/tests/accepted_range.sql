{#- Fails on rows outside [min_value, max_value]; nulls and a missing bound exclude nothing. -#}
{% test accepted_range(model, column_name, min_value=none, max_value=none, inclusive=true) %}
select *
from {{ model }}
where
    {{ column_name }} is not null
    and (
        {{ column_name }} {{ '<' if inclusive else '<=' }} {{ 'null' if min_value is none else min_value }}
        or {{ column_name }} {{ '>' if inclusive else '>=' }} {{ 'null' if max_value is none else max_value }}
    )
{% endtest %}
