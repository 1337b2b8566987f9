with

source as (
    select * from {{ shop_deleted_records() }}
),

renamed as (
    select
        cast(table_name as {{ dbt.type_string() }}) as table_name,
        cast(record_key as {{ dbt.type_string() }}) as record_key,
        cast(is_deleted as boolean) as is_deleted,
        {{ to_utc_timestamp('detected_at') }} as detected_at,
        _dlt_load_id
    from source
),

{# the latest verdict per key where raw is append-only (merged raw holds only that one) #}
latest as (
    {{ latest_version_per_key(
        'renamed', ['table_name', 'record_key'], 'detected_at desc, _dlt_load_id desc'
    ) }}
),

final as (
    select
        table_name,
        record_key,
        is_deleted,
        detected_at,
        _dlt_load_id
    from latest
)

select * from final
