with

tickets as (
    select * from {{ ref('stg_helpdesk__tickets') }}
),

invoices as (
    select * from {{ ref('stg_billing__invoices') }}
),

tickets_per_customer as (
    select
        customer_id,
        count(*) as tickets
    from tickets
    group by customer_id
),

invoiced_per_customer as (
    select
        customer_id,
        sum(amount_cents) as invoiced_cents
    from invoices
    group by customer_id
),

joined as (
    select
        tickets_per_customer.customer_id,
        tickets_per_customer.tickets,
        coalesce(invoiced_per_customer.invoiced_cents, 0) as invoiced_cents
    from tickets_per_customer
    left join invoiced_per_customer
        on tickets_per_customer.customer_id = invoiced_per_customer.customer_id
)

select * from joined
