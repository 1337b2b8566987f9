with

products as (
    select * from {{ ref('base_shop__products') }}
),

latest as (
    {{ latest_version_per_key('products', 'product_id', 'updated_at desc, _dlt_load_id desc') }}
),

accepted as (
    select
        product_id,
        sku,
        product_name,
        list_price,
        currency,
        is_active,
        created_at,
        updated_at,
        _dlt_load_id,
        coalesce(category, 'uncategorised') as category
    from latest
    where quarantine_reason is null
)

select * from accepted
