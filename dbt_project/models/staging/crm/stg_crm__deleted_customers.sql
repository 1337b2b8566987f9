with

source as (
    select * from {{ source('crm', 'deleted_customers') }}
),

renamed as (
    select
        cast(id as bigint) as customer_id,
        {{ to_utc_timestamp('deleted_at') }} as deleted_at,
        _dlt_load_id
    from source
),

{# one row per customer where raw is append-only (a re-read delivers a delete again) #}
latest as (
    {{ latest_version_per_key('renamed', 'customer_id', 'deleted_at desc, _dlt_load_id desc') }}
),

final as (
    select
        customer_id,
        deleted_at,
        _dlt_load_id
    from latest
)

select * from final
