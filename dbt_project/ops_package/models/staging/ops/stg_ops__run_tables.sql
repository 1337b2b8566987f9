with

run_tables as (
    select * from {{ ledger_relation('run_tables', {
        'run_id': 'string',
        'step': 'string',
        'table_name': 'string',
        'rows_loaded': 'bigint',
        'rows_new': 'bigint',
        'rows_updated': 'bigint',
        'rows_rejected': 'bigint',
        'recorded_at': 'timestamp'
    }) }}
),

renamed as (
    select
        run_id,
        step,
        table_name,
        {{ dbt.split_part('table_name', "'.'", 1) }} as source_dataset,
        rows_loaded,
        rows_new,
        rows_updated,
        rows_rejected,
        recorded_at,
        cast(recorded_at as date) as recorded_date
    from run_tables
)

select * from renamed
