with

run_tables as (
    select * from {{ ref('stg_ops__run_tables') }}
),

runs as (
    select * from {{ ref('stg_ops__runs') }}
),

per_run as (
    select
        run_id,
        source_dataset,
        max(recorded_at) as recorded_at,
        count(*) as tables_loaded,
        sum(rows_loaded) as rows_loaded,
        sum(rows_rejected) as rows_rejected
    from run_tables
    group by run_id, source_dataset
),

ranked as (
    select
        per_run.*,
        row_number() over (
            partition by per_run.source_dataset order by per_run.recorded_at desc
        ) as recency_rank
    from per_run
),

latest as (
    select
        ranked.source_dataset,
        ranked.run_id as last_run_id,
        runs.command as last_run_command,
        runs.run_status as last_run_status,
        runs.failed_step as last_run_failed_step,
        runs.started_at as last_run_started_at,
        ranked.recorded_at as last_loaded_at,
        ranked.tables_loaded,
        ranked.rows_loaded,
        ranked.rows_rejected
    from ranked
    left join runs
        on ranked.run_id = runs.run_id
    where ranked.recency_rank = 1
)

select * from latest
