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
)

select * from renamed
