with

run_tables as (
    select * from {{ ref('stg_ops__run_tables') }}
),

daily as (
    select
        table_name,
        source_dataset,
        recorded_date as load_date,
        count(distinct run_id) as runs,
        sum(rows_loaded) as rows_loaded,
        sum(rows_new) as rows_new,
        sum(rows_updated) as rows_updated,
        sum(rows_rejected) as rows_rejected
    from run_tables
    group by table_name, source_dataset, recorded_date
),

with_trend as (
    select
        daily.*,
        sum(daily.rows_new) over (
            partition by daily.table_name
            order by daily.load_date
            rows between unbounded preceding and current row
        ) as rows_total_after
    from daily
)

select * from with_trend
