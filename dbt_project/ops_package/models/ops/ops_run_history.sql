with

runs as (
    select * from {{ ref('stg_ops__runs') }}
),

final as (
    select
        run_id,
        command,
        run_status,
        started_at,
        ended_at,
        duration_s,
        failed_step,
        error,
        rows_loaded,
        rows_rejected,
        models_built,
        tests_passed,
        tests_warned,
        tests_failed,
        started_date
    from runs
)

select * from final
