with

order_items as (
    select * from {{ ref('int_order_items_deletes_removed') }}
),

orders as (
    select * from {{ ref('int_orders_converted') }}
),

products as (
    select * from {{ ref('stg_shop__products') }}
),

joined as (
    select
        order_items.order_item_id,
        order_items.order_id,
        orders.customer_id,
        order_items.product_id,
        products.sku,
        products.product_name,
        products.category,
        order_items.quantity,
        order_items.unit_price,
        order_items.line_amount,
        orders.currency,
        {{ fx_convert('order_items.line_amount', 'orders.fx_rate', 'orders.base_fx_rate') }}
            as line_amount_base,
        orders.status as order_status,
        orders.is_revenue,
        orders.created_at as ordered_at,
        orders.order_date
    from order_items
        {#- Items of soft-deleted or quarantined orders are not facts (see quarantine_rows). #}
    inner join orders
        on order_items.order_id = orders.order_id
    left join products
        on order_items.product_id = products.product_id
),

final as (
    select
        cast(order_item_id as bigint) as order_item_id,
        cast(order_id as bigint) as order_id,
        cast(customer_id as bigint) as customer_id,
        cast(product_id as bigint) as product_id,
        cast(sku as {{ type_varchar() }}) as sku,
        cast(product_name as {{ type_varchar() }}) as product_name,
        cast(category as {{ type_varchar() }}) as category,
        cast(quantity as integer) as quantity,
        cast(unit_price as numeric(18, 2)) as unit_price,
        cast(line_amount as numeric(18, 2)) as line_amount,
        cast(currency as {{ type_varchar() }}) as currency,
        cast(line_amount_base as numeric(18, 2)) as line_amount_base,
        cast(order_status as {{ type_varchar() }}) as order_status,
        cast(is_revenue as boolean) as is_revenue,
        cast(ordered_at as timestamp) as ordered_at,
        cast(order_date as date) as order_date
    from joined
)

select * from final
