with

order_items as (
    select * from {{ ref('base_shop__order_items') }}
),

versioned as (
    select
        *,
        row_number() over (
            partition by order_item_id
            order by updated_at desc, _dlt_load_id desc
        ) as version_rank
    from order_items
),

cleaned as (
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
    from versioned
    where version_rank = 1 and quarantine_reason is null and hard_deleted_at is null
)

select * from cleaned
