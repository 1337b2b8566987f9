{{ config(materialized='view', schema='ops') }}

with

quarantine as (
    select * from {{ ref('quarantine_rows') }}
),

counted as (
    select
        source_table as table_name,
        layer,
        count(*) as row_count
    from quarantine
    group by source_table, layer
)

select * from counted
