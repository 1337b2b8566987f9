with

order_items as (
    select * from {{ ref('base_shop__order_items') }}
),

latest as (
    {{ latest_version_per_key(
        'order_items', 'order_item_id', 'updated_at desc, _dlt_load_id desc'
    ) }}
),

accepted as (
    select
        order_item_id,
        order_id,
        product_id,
        quantity,
        unit_price,
        cast(quantity * unit_price as numeric(18, 2)) as line_amount,
        created_at,
        updated_at,
        _dlt_load_id
    from latest
    where quarantine_reason is null
)

select * from accepted
