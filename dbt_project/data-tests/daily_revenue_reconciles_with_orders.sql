{#- fct_daily_revenue must hold exactly the revenue orders of fct_orders, per day. -#}
with

orders as (
    select
        order_date,
        count(*) as orders,
        sum(net_amount_base) as revenue
    from {{ ref('fct_orders') }}
    where is_revenue
    group by order_date
),

daily as (
    select
        order_date,
        sum(orders) as orders,
        sum(revenue) as revenue
    from {{ ref('fct_daily_revenue') }}
    group by order_date
)

select
    orders.orders as fct_orders_orders,
    daily.orders as daily_revenue_orders,
    orders.revenue as fct_orders_revenue,
    daily.revenue as daily_revenue_revenue,
    coalesce(orders.order_date, daily.order_date) as order_date
from orders
full outer join daily
    on orders.order_date = daily.order_date
where
    orders.order_date is null
    or daily.order_date is null
    or orders.orders != daily.orders
    or orders.revenue != daily.revenue
