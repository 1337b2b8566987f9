with

source as (
    select * from {{ shop_rows('products', 'product_id') }}
),

renamed as (
    select
        cast(product_id as bigint) as product_id,
        trim(sku) as sku,
        trim(name) as product_name,
        lower(trim(category)) as category,
        cast(list_price as numeric(18, 2)) as list_price,
        upper(trim(currency)) as currency,
        cast(is_active as boolean) as is_active,
        {{ utc_wall_clock('created_at') }} as created_at,
        {{ utc_wall_clock('updated_at') }} as updated_at,
        _dlt_load_id
    from source
),

validated as (
    select
        *,
        case
            when product_id is null then 'missing product_id'
            when list_price < 0 then 'negative list_price'
        end as quarantine_reason
    from renamed
)

select * from validated
