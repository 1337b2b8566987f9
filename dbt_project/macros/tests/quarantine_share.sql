{#- One scan, a row per threshold the refused share exceeds: one row warns, two fail the build.
    With `rows_column`, each row counts many: `column_name` refused of `rows_column`. -#}
{% test quarantine_share(model, column_name, warn_share=none, error_share=none, rows_column=none) %}
    {{ config(warn_if='>=1', error_if='>=2') }}
    {%- set warn_share = var('quarantine_warn_share', 0.01) if warn_share is none
        else warn_share -%}
    {%- set error_share = var('quarantine_error_share', 0.05) if error_share is none
        else error_share -%}
    {%- set total_rows = 'sum(' ~ rows_column ~ ')' if rows_column else 'count(*)' -%}
    {%- set quarantined_rows = 'sum(' ~ column_name ~ ')' if rows_column
        else 'sum(case when ' ~ column_name ~ ' is not null then 1 else 0 end)' -%}
{%- if warn_share | float > error_share | float -%}
    {{ exceptions.raise_compiler_error(
        "quarantine_share on " ~ model ~ ": warn_share " ~ warn_share
        ~ " is above error_share " ~ error_share) }}
{%- endif %}
with counted as (
    select
        {{ total_rows }} as total_rows,
        {{ quarantined_rows }} as quarantined_rows
    from {{ model }}
),

thresholds as (
    select 'warn' as threshold, {{ warn_share }} as max_share
    union all
    select 'error' as threshold, {{ error_share }} as max_share
)

select
    thresholds.threshold,
    thresholds.max_share,
    counted.total_rows,
    counted.quarantined_rows,
    cast(counted.quarantined_rows as numeric) / counted.total_rows as quarantined_share
from counted
cross join thresholds
where
    counted.total_rows > 0
    and cast(counted.quarantined_rows as numeric) / counted.total_rows > thresholds.max_share
{% endtest %}
