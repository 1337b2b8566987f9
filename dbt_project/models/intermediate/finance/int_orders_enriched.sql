with

orders as (
    select * from {{ ref('int_orders_converted') }}
),

order_items as (
    select * from {{ ref('int_order_items_deletes_removed') }}
),

items_per_order as (
    select
        order_id,
        count(*) as line_count,
        sum(quantity) as item_count
    from order_items
    group by order_id
),

sequenced as (
    select
        orders.*,
        coalesce(items_per_order.line_count, 0) as line_count,
        coalesce(items_per_order.item_count, 0) as item_count,
        row_number() over (
            partition by orders.customer_id
            order by orders.created_at, orders.order_id
        ) as customer_order_number,
        case
            when orders.is_revenue
                then row_number() over (
                        partition by orders.customer_id, orders.is_revenue
                        order by orders.created_at, orders.order_id
                    )
        end as customer_revenue_order_number
    from orders
    left join items_per_order
        on orders.order_id = items_per_order.order_id
),

final as (
    select
        *,
        customer_order_number = 1 as is_first_order,
        coalesce(customer_revenue_order_number = 1, false) as is_first_revenue_order
    from sequenced
)

select * from final
