with

run_sources as (
    select * from {{ ledger_relation('run_sources', {
        'run_id': 'string',
        'step': 'string',
        'attempt': 'int',
        'source_name': 'string',
        'dataset_name': 'string',
        'status': 'string',
        'started_at': 'timestamp',
        'duration_s': 'float',
        'error': 'string',
        'load_ids': 'string',
        'row_counts': 'string',
        'rows_rejected': 'bigint'
    }) }}
),

renamed as (
    select
        run_id,
        step,
        attempt,
        source_name,
        dataset_name as source_dataset,
        status as load_status,
        started_at,
        duration_s,
        error,
        load_ids,
        row_counts,
        rows_rejected
    from run_sources
)

select * from renamed
