{#- Lifetime figures count revenue orders only (paid, shipped, delivered; not deleted). -#}
with

orders as (
    select * from {{ ref('int_orders_enriched') }}
),

all_orders as (
    select
        customer_id,
        min(created_at) as first_order_at,
        max(created_at) as last_order_at,
        count(*) as lifetime_orders_placed
    from orders
    group by customer_id
),

revenue_orders as (
    select
        customer_id,
        min(created_at) as first_revenue_order_at,
        max(created_at) as last_revenue_order_at,
        count(*) as lifetime_orders,
        sum(net_amount_base) as lifetime_revenue
    from orders
    where is_revenue
    group by customer_id
),

joined as (
    select
        all_orders.customer_id,
        all_orders.first_order_at,
        all_orders.last_order_at,
        all_orders.lifetime_orders_placed,
        revenue_orders.first_revenue_order_at,
        revenue_orders.last_revenue_order_at,
        coalesce(revenue_orders.lifetime_orders, 0) as lifetime_orders,
        coalesce(revenue_orders.lifetime_revenue, 0) as lifetime_revenue
    from all_orders
    left join revenue_orders
        on all_orders.customer_id = revenue_orders.customer_id
)

select * from joined
