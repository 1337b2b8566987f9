with

invoices as (
    select * from {{ source('billing', 'invoices') }}
),

renamed as (
    select
        invoice_id,
        customer_id,
        amount_cents,
        cast(substr(issued_at, 1, 10) as date) as issued_date
    from invoices
)

select * from renamed
