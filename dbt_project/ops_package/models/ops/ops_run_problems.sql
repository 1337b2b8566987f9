with

runs as (
    select * from {{ ref('stg_ops__runs') }}
),

run_sources as (
    select * from {{ ref('stg_ops__run_sources') }}
),

dbt_results as (
    select * from {{ ref('stg_ops__dbt_results') }}
),

{# a source counts once per run: its last attempt #}
last_source_attempts as (
    {{ latest_version_per_key('run_sources', ['run_id', 'step', 'source_name'], 'attempt desc') }}
),

problems as (
    select
        run_id,
        'step' as kind,
        failed_step as subject,
        'failed' as problem_status,
        error as message
    from runs
    where failed_step is not null
    union all
    select
        run_id,
        'source' as kind,
        source_name as subject,
        load_status as problem_status,
        error as message
    from last_source_attempts
    where load_status = 'failed'
    union all
    select
        run_id,
        resource_type as kind,
        node_name as subject,
        node_status as problem_status,
        message
    from dbt_results
    where node_status in ('error', 'fail', 'warn', 'runtime error')
)

select
    run_id,
    kind,
    subject,
    problem_status as status,
    message
from problems
