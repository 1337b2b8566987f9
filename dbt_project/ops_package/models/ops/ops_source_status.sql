with

run_sources as (
    select * from {{ ref('stg_ops__run_sources') }}
),

run_tables as (
    select * from {{ ref('stg_ops__run_tables') }}
),

runs as (
    select * from {{ ref('stg_ops__runs') }}
),

{# the source's latest attempt, whatever it did #}
latest_attempt as (
    {{ latest_version_per_key('run_sources', 'source_dataset', 'started_at desc, attempt desc') }}
),

{# freshness counts only loads that landed rows in a data table #}
data_loads as (
    select
        run_id,
        source_dataset,
        max(recorded_at) as recorded_at,
        sum(rows_loaded) as rows_loaded
    from run_tables
    where
        rows_loaded > 0
        and table_name not like '%.rejected_records'
        and table_name not like '%.deleted_records'
    group by run_id, source_dataset
),

latest_data_load as (
    {{ latest_version_per_key('data_loads', 'source_dataset', 'recorded_at desc') }}
),

final as (
    select
        latest_attempt.source_dataset,
        latest_attempt.source_name,
        latest_attempt.run_id as last_run_id,
        runs.command as last_run_command,
        latest_attempt.load_status as last_run_status,
        latest_attempt.started_at as last_attempted_at,
        latest_attempt.error as last_error,
        latest_data_load.recorded_at as last_data_loaded_at,
        latest_data_load.run_id as last_data_run_id,
        latest_data_load.rows_loaded as rows_last_loaded
    from latest_attempt
    left join runs
        on latest_attempt.run_id = runs.run_id
    left join latest_data_load
        on latest_attempt.source_dataset = latest_data_load.source_dataset
)

select * from final
