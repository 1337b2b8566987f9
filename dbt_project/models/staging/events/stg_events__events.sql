with

events as (
    select * from {{ ref('base_events__events') }}
),

versioned as (
    select
        *,
        row_number() over (
            partition by event_id
            order by _dlt_load_id desc, file_name desc, file_line desc
        ) as version_rank
    from events
),

cleaned as (
    select
        event_id,
        anonymous_id,
        customer_id,
        event_type,
        page_url,
        referrer,
        utm_source,
        utm_medium,
        utm_campaign,
        coalesce(device, 'unknown') as device,
        occurred_at,
        cast(occurred_at as date) as event_date,
        cast({{ safe_numeric(json_text_field('properties', 'product_id'), 'bigint') }} as bigint)
            as product_id,
        cast({{ safe_numeric(json_text_field('properties', 'order_id'), 'bigint') }} as bigint)
            as order_id,
        {{ safe_numeric(json_text_field('properties', 'price'), 'numeric(18, 2)') }} as price,
        properties,
        file_name,
        file_line,
        _dlt_load_id
    from versioned
    where version_rank = 1 and quarantine_reason is null
)

select * from cleaned
