with

source as (
    select * from {{ shop_rows('order_items', 'order_item_id') }}
),

renamed as (
    select
        cast(order_item_id as bigint) as order_item_id,
        cast(order_id as bigint) as order_id,
        cast(product_id as bigint) as product_id,
        cast(quantity as integer) as quantity,
        cast(unit_price as numeric(18, 2)) as unit_price,
        {{ utc_wall_clock('created_at') }} as created_at,
        {{ utc_wall_clock('updated_at') }} as updated_at,
        _dlt_load_id
    from source
),

validated as (
    select
        *,
        case
            when order_item_id is null then 'missing order_item_id'
            when order_id is null then 'missing order_id'
            when product_id is null then 'missing product_id'
            when quantity is null or quantity <= 0 then 'non-positive quantity'
            when unit_price is null or unit_price < 0 then 'negative unit_price'
        end as quarantine_reason
    from renamed
)

select * from validated
