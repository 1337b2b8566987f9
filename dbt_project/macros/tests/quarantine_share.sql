{#-
    Guards how much of a table staging refuses. `model` holds every raw row with its
    `column_name` (the quarantine reason, null when accepted); the test returns one row when
    the quarantined share exceeds `max_share` (0.01 = 1 %). Pair a warn test at 1 % with an
    error test at 5 %.
-#}
{% test quarantine_share(model, column_name, max_share) %}
with counted as (
    select
        count(*) as total_rows,
        sum(case when {{ column_name }} is not null then 1 else 0 end) as quarantined_rows
    from {{ model }}
)

select
    total_rows,
    quarantined_rows,
    cast(quarantined_rows as numeric) / total_rows as quarantined_share
from counted
where total_rows > 0 and cast(quarantined_rows as numeric) / total_rows > {{ max_share }}
{% endtest %}
