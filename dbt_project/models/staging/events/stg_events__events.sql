{{
    config(
        materialized=in_place_materialization(parallel_select=true),
        unique_key='event_id',
        meta={'version_column': '_dlt_load_id'},
        incremental_strategy=upsert_strategy(),
        partition_by=date_partitions('event_date'),
        on_schema_change='fail',
        indexes=load_id_indexes(['_dlt_load_id']),
        pre_hook="{{ record_build_window('_dlt_load_id') }}"
    )
}}
{#- Incremental: only loads newer than the newest kept; an event delivered again replaces it. -#}
with

{% if is_incremental() %}
    watermark as {{ cte_materialized(true) }} (
        select {{ newest_kept_load() }} as load_id
    ),
{% endif %}

{# inlined where read: each reader filters the new loads, none writes them to disk #}
new_events as {{ cte_materialized(false) }} (
    select * from {{ ref('base_events__events') }}
    {% if is_incremental() %}
        where _dlt_load_id > (select watermark.load_id from watermark)
    {% endif %}
),

{# merged raw ids are unique: only ids equal once trimmed are ranked (all on an append-only lake) #}
padded_ids as (
    select event_id
    from new_events
    where {{ 'true' if raw_keys_repeat() else 'is_event_id_padded' }}
),

repeated_ids as (
    select event_id
    from new_events
    where event_id in (select padded_ids.event_id from padded_ids)
    group by event_id
    having count(*) > 1
),

unrepeated_events as (
    select
        *,
        1 as version_rank
    from new_events
    where not exists (
            select 1
            from repeated_ids
            where repeated_ids.event_id = new_events.event_id
        )
),

repeated_events as (
    select *
    from new_events
    where exists (
            select 1
            from repeated_ids
            where repeated_ids.event_id = new_events.event_id
        )
),

latest_repeated_events as (
    {{ latest_version_per_key(
        'repeated_events', 'event_id', '_dlt_load_id desc, file_name desc, file_line desc'
    ) }}
),

latest as (
    select * from unrepeated_events
    union all
    select * from latest_repeated_events
),

accepted as (
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
    from latest
    where quarantine_reason is null
)

{{ complete_partitions('accepted', 'event_id', 'event_date') }}
