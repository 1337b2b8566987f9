with

runs as (
    select * from {{ ledger_relation('runs', {
        'run_id': 'string',
        'command': 'string',
        'status': 'string',
        'started_at': 'timestamp',
        'ended_at': 'timestamp',
        'duration_s': 'float',
        'failed_step': 'string',
        'error': 'string',
        'dbt_invocation_id': 'string',
        'rows_loaded': 'bigint',
        'rows_rejected': 'bigint',
        'models_built': 'int',
        'tests_passed': 'int',
        'tests_warned': 'int',
        'tests_failed': 'int'
    }) }}
),

renamed as (
    select
        run_id,
        command,
        status as run_status,
        started_at,
        ended_at,
        duration_s,
        failed_step,
        error,
        dbt_invocation_id,
        rows_loaded,
        rows_rejected,
        models_built,
        tests_passed,
        tests_warned,
        tests_failed,
        cast(started_at as date) as started_date
    from runs
)

select * from renamed
