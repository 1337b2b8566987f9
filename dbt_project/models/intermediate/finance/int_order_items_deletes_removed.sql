with

order_items as (
    select * from {{ ref('stg_shop__order_items') }}
),

deleted_records as (
    select * from {{ ref('stg_shop__deleted_records') }}
),

deleted_order_items as (
    select record_key
    from deleted_records
    where table_name = 'order_items' and is_deleted
),

live_order_items as (
    select order_items.*
    from order_items
    left join deleted_order_items
        on
            cast(order_items.order_item_id as {{ dbt.type_string() }})
            = deleted_order_items.record_key
    where deleted_order_items.record_key is null
)

select * from live_order_items
