with

dbt_results as (
    select * from {{ ref('stg_ops__dbt_results') }}
),

runs as (
    select * from {{ ref('stg_ops__runs') }}
),

tests as (
    select
        dbt_results.run_id,
        dbt_results.invocation_id,
        dbt_results.unique_id,
        dbt_results.node_name as test_name,
        dbt_results.resource_type,
        dbt_results.node_status as test_status,
        dbt_results.failures,
        dbt_results.execution_time_s,
        dbt_results.recorded_at,
        runs.started_at as run_started_at,
        runs.command as run_command
    from dbt_results
    left join runs
        on dbt_results.run_id = runs.run_id
    where dbt_results.resource_type in ('test', 'unit_test')
),

with_previous as (
    select
        tests.*,
        tests.test_status in ('fail', 'error') as is_failing,
        tests.test_status = 'warn' as is_warning,
        lag(tests.test_status) over (
            partition by tests.unique_id order by tests.recorded_at
        ) as previous_status
    from tests
)

select * from with_previous
