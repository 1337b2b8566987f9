with

source as (
    select * from {{ shop_rows('orders', 'order_id') }}
),

renamed as (
    select
        cast(order_id as bigint) as order_id,
        cast(customer_id as bigint) as customer_id,
        lower(trim(status)) as status,
        upper(trim(currency)) as currency,
        cast(subtotal as numeric(18, 2)) as subtotal,
        cast(discount_amount as numeric(18, 2)) as discount_amount,
        cast(shipping_amount as numeric(18, 2)) as shipping_amount,
        cast(total_amount as numeric(18, 2)) as total_amount,
        {{ utc_wall_clock('created_at') }} as created_at,
        {{ utc_wall_clock('updated_at') }} as updated_at,
        {{ utc_wall_clock('deleted_at') }} as deleted_at,
        _dlt_load_id
    from source
),

validated as (
    select
        *,
        case
            when order_id is null then 'missing order_id'
            when customer_id is null then 'missing customer_id'
            when created_at is null then 'missing created_at'
            when status is null
                or status not in (
                    'placed', 'paid', 'shipped', 'delivered', 'cancelled', 'refunded'
                )
                then 'unknown status'
            when currency is null
                or currency not in ({{ sql_string_list(var('accepted_currencies')) }})
                then 'unknown currency'
            when subtotal < 0 or discount_amount < 0 or shipping_amount < 0
                then 'negative amount'
        end as quarantine_reason
    from renamed
)

select * from validated
