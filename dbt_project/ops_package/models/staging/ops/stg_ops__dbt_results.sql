with

dbt_results as (
    select * from {{ ledger_relation('dbt_results', {
        'run_id': 'string',
        'invocation_id': 'string',
        'unique_id': 'string',
        'resource_type': 'string',
        'name': 'string',
        'status': 'string',
        'execution_time_s': 'float',
        'rows_affected': 'bigint',
        'failures': 'bigint',
        'message': 'string',
        'recorded_at': 'timestamp'
    }) }}
),

renamed as (
    select
        run_id,
        invocation_id,
        unique_id,
        resource_type,
        name as node_name,
        status as node_status,
        execution_time_s,
        rows_affected,
        failures,
        message,
        recorded_at
    from dbt_results
)

select * from renamed
