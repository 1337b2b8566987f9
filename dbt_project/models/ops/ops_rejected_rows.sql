with

quarantine as (
    select * from {{ ref('quarantine_rows') }}
),

run_tables as (
    select * from {{ ref('stg_ops__run_tables') }}
),

{# every data table the loaders have written, so a table with nothing refused shows 0 #}
raw_tables as (
    select distinct table_name
    from run_tables
    where
        table_name not like '%.rejected_records'
        and table_name not like '%.deleted_records'
    union
    select distinct source_table as table_name
    from quarantine
),

counted as (
    select
        raw_tables.table_name,
        sum(case when quarantine.layer = 'load' then 1 else 0 end) as rejected_at_load,
        sum(case when quarantine.layer = 'staging' then 1 else 0 end) as quarantined_in_staging
    from raw_tables
    left join quarantine
        on raw_tables.table_name = quarantine.source_table
    group by raw_tables.table_name
)

select * from counted
