{{ config(materialized='view') }}
{#- A view: its readers (stg_events__events and int_events_loads/_refused) read new loads. -#}
with

source as (
    select * from {{ source('events', 'events') }}
),

renamed as (
    select
        trim(event_id) as event_id,
        event_id as raw_event_id,
        coalesce(event_id <> trim(event_id), false) as is_event_id_padded,
        nullif(trim(anonymous_id), '') as anonymous_id,
        cast(customer_id as bigint) as customer_id,
        lower(trim(event_type)) as event_type,
        url as page_url,
        nullif(trim(referrer), '') as referrer,
        lower(nullif(trim(utm_source), '')) as utm_source,
        lower(nullif(trim(utm_medium), '')) as utm_medium,
        nullif(trim(utm_campaign), '') as utm_campaign,
        lower(nullif(trim(device), '')) as device,
        {{ to_utc_timestamp('occurred_at') }} as occurred_at,
        cast(properties as {{ dbt.type_string() }}) as properties,
        _file_name as file_name,
        cast(_file_line as bigint) as file_line,
        _dlt_load_id
    from source
),

validated as (
    select
        *,
        case
            when event_id is null or event_id = '' then 'missing event_id'
            when anonymous_id is null then 'missing anonymous_id'
            when occurred_at is null then 'missing occurred_at'
            when event_type is null
                or event_type not in (
                    'page_view', 'product_view', 'add_to_cart', 'checkout_started', 'purchase'
                )
                then 'unknown event_type'
        end as quarantine_reason
    from renamed
)

select * from validated
