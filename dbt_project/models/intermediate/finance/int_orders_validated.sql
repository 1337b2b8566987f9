{#-
    Order checks that need other tables: an order is refused when its customer is not in the
    CRM or when any of its lines has a non-positive quantity (the whole order is suspect).
-#}
with

orders as (
    select * from {{ ref('stg_shop__orders') }}
),

customers as (
    select * from {{ ref('stg_crm__customers') }}
),

order_items as (
    select * from {{ ref('base_shop__order_items') }}
),

orders_with_bad_lines as (
    select distinct order_id
    from order_items
    where (quantity is null or quantity <= 0) and hard_deleted_at is null
),

validated as (
    select
        orders.*,
        case
            when customers.customer_id is null then 'unknown customer'
            when orders_with_bad_lines.order_id is not null
                then 'order line with non-positive quantity'
        end as quarantine_reason
    from orders
    left join customers
        on orders.customer_id = customers.customer_id
    left join orders_with_bad_lines
        on orders.order_id = orders_with_bad_lines.order_id
)

select * from validated
