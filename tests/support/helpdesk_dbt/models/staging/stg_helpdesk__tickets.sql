with

tickets as (
    select * from {{ source('helpdesk', 'tickets') }}
),

renamed as (
    select
        id as ticket_id,
        customer_id,
        subject,
        to_timestamp(updated_at) as updated_at
    from tickets
)

select * from renamed
