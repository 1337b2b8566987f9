with

run_tables as (
    select * from {{ ref('stg_ops__run_tables') }}
    where
        table_name not like '%.rejected_records'
        and table_name not like '%.deleted_records'
),

{# the project's quarantine model (var `ops_quarantine_model`), else the ledger's counts #}
refused as (
    {{ ops_refused_rows(var('ops_quarantine_model', none), 'run_tables') }}
),

{# every data table the loaders have written, so a table with nothing refused shows 0 #}
raw_tables as (
    select distinct table_name
    from run_tables
    union
    select table_name
    from refused
),

counted as (
    select
        raw_tables.table_name,
        cast(coalesce(refused.rejected_at_load, 0) as {{ dbt.type_bigint() }}) as rejected_at_load,
        cast(
            coalesce(refused.quarantined_in_staging, 0) as {{ dbt.type_bigint() }}
        ) as quarantined_in_staging
    from raw_tables
    left join refused
        on raw_tables.table_name = refused.table_name
)

select * from counted
