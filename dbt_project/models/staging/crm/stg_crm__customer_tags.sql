with

source as (
    select * from {{ source('crm', 'customers__tags') }}
),

renamed as (
    select
        _dlt_parent_id as customer_dlt_id,
        cast(_dlt_list_idx as integer) as tag_position,
        lower(trim(value)) as tag
    from source
    where nullif(trim(value), '') is not null
)

select * from renamed
