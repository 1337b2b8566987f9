with

orders as (
    select * from {{ ref('base_shop__orders') }}
),

versioned as (
    select
        *,
        row_number() over (
            partition by order_id
            order by updated_at desc, _dlt_load_id desc
        ) as version_rank
    from orders
),

cleaned as (
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
    from versioned
    where
        version_rank = 1
        and quarantine_reason is null
        and deleted_at is null
        and hard_deleted_at is null
)

select * from cleaned
