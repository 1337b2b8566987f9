with

products as (
    select * from {{ ref('base_shop__products') }}
),

versioned as (
    select
        *,
        row_number() over (
            partition by product_id
            order by updated_at desc, _dlt_load_id desc
        ) as version_rank
    from products
),

cleaned as (
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
    from versioned
    where version_rank = 1 and quarantine_reason is null
)

select * from cleaned
