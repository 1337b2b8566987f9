with

orders as (
    select * from {{ ref('base_shop__orders') }}
),

latest as (
    {{ latest_version_per_key('orders', 'order_id', 'updated_at desc, _dlt_load_id desc') }}
),

accepted as (
    select
        order_id,
        customer_id,
        status,
        currency,
        subtotal,
        discount_amount,
        shipping_amount,
        total_amount,
        created_at,
        cast(created_at as date) as order_date,
        updated_at,
        _dlt_load_id,
        status in ('paid', 'shipped', 'delivered') as is_revenue
    from latest
    where quarantine_reason is null and deleted_at is null
)

select * from accepted
