{#- Fails when `model` and `compare_model` (each optionally filtered) differ in row count. -#}
{% test equal_rowcount(model, compare_model, where_model='1 = 1', where_compare='1 = 1') %}
with
model_rows as (
    select count(*) as n from {{ model }} where {{ where_model }}
),

compare_rows as (
    select count(*) as n from {{ compare_model }} where {{ where_compare }}
)

select
    model_rows.n as model_count,
    compare_rows.n as compare_count
from model_rows
cross join compare_rows
where model_rows.n != compare_rows.n
{% endtest %}
