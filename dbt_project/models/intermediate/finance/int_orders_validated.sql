{#- Orders still in the source; refused for an unknown customer or a non-positive line. -#}
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

deleted_records as (
    select * from {{ ref('stg_shop__deleted_records') }}
),

deleted_orders as (
    select record_key
    from deleted_records
    where table_name = 'orders' and is_deleted
),

deleted_order_items as (
    select record_key
    from deleted_records
    where table_name = 'order_items' and is_deleted
),

orders_with_bad_lines as (
    select distinct order_items.order_id
    from order_items
    left join deleted_order_items
        on
            cast(order_items.order_item_id as {{ dbt.type_string() }})
            = deleted_order_items.record_key
    where
        (order_items.quantity is null or order_items.quantity <= 0)
        and deleted_order_items.record_key is null
),

live_orders as (
    select orders.*
    from orders
    left join deleted_orders
        on cast(orders.order_id as {{ dbt.type_string() }}) = deleted_orders.record_key
    where deleted_orders.record_key is null
),

validated as (
    select
        live_orders.*,
        case
            when customers.customer_id is null then 'unknown customer'
            when orders_with_bad_lines.order_id is not null
                then 'order line with non-positive quantity'
        end as quarantine_reason
    from live_orders
    left join customers
        on live_orders.customer_id = customers.customer_id
    left join orders_with_bad_lines
        on live_orders.order_id = orders_with_bad_lines.order_id
)

select * from validated
