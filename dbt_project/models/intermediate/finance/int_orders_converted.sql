with

orders as (
    select * from {{ ref('int_orders_validated') }}
    where quarantine_reason is null
),

published_rates as (
    select * from {{ ref('stg_fx__rates') }}
),

{#- a rate holds until the next published one, so days without a rate use the latest earlier. #}

rates as (
    select
        currency,
        rate_date as valid_from,
        rate,
        lead(rate_date) over (partition by currency order by rate_date) as valid_to
    from published_rates
),

converted as (
    select
        orders.order_id,
        orders.customer_id,
        orders.status,
        orders.is_revenue,
        orders.currency,
        orders.subtotal,
        orders.discount_amount,
        orders.shipping_amount,
        orders.total_amount,
        cast(orders.subtotal - orders.discount_amount as numeric(18, 2)) as net_amount,
        order_rate.valid_from as fx_rate_date,
        order_rate.rate as fx_rate,
        base_rate.rate as base_fx_rate,
        {{ fx_convert(
            'orders.subtotal - orders.discount_amount', 'order_rate.rate', 'base_rate.rate'
        ) }} as net_amount_base,
        {{ fx_convert('orders.total_amount', 'order_rate.rate', 'base_rate.rate') }}
            as total_amount_base,
        orders.created_at,
        orders.order_date,
        orders.updated_at
    from orders
    left join rates as order_rate
        on
            orders.currency = order_rate.currency
            and orders.order_date >= order_rate.valid_from
            and (orders.order_date < order_rate.valid_to or order_rate.valid_to is null)
    left join rates as base_rate
        on
            base_rate.currency = '{{ var("base_currency") }}'
            and orders.order_date >= base_rate.valid_from
            and (orders.order_date < base_rate.valid_to or base_rate.valid_to is null)
)

select * from converted
