{#- Everything refused, with the reason: by staging and cross-table checks, and by the loaders. -#}
{%- set staged = [
    ('raw_crm.customers', 'base_crm__customers', 'customer_id'),
    ('raw_crm.campaigns', 'base_crm__campaigns', 'campaign_id'),
    ('raw_fx.rates', 'base_fx__rates', "cast(rate_date as " ~ dbt.type_string() ~ ") || '/' || currency"),
    ('raw_shop.products', 'base_shop__products', 'product_id'),
    ('raw_shop.orders', 'base_shop__orders', 'order_id'),
    ('raw_shop.orders', 'int_orders_validated', 'order_id'),
    ('raw_shop.order_items', 'base_shop__order_items', 'order_item_id'),
    ('raw_events.events', 'int_events_refused', 'event_id'),
] -%}
with

{% for table, model, key in staged %}
    {{ model }} as (
        select * from {{ ref(model) }}
    ),

{% endfor -%}

loader_rejections as (
    select * from {{ ref('int_rejected_records_unioned') }}
),

quarantined_orders as (
    select order_id
    from base_shop__orders
    where quarantine_reason is not null
    union
    select order_id
    from int_orders_validated
    where quarantine_reason is not null
),

unioned as (
    {% for table, model, key in staged -%}
        select
            'staging' as layer,
            '{{ table }}' as source_table,
            cast({{ key }} as {{ dbt.type_string() }}) as record_key,
            quarantine_reason as reason,
            cast(null as {{ dbt.type_string() }}) as record_text,
            _dlt_load_id
        from {{ model }}
        where quarantine_reason is not null
        union all
    {% endfor -%}
    select
        'staging' as layer,
        'raw_shop.order_items' as source_table,
        cast(base_shop__order_items.order_item_id as {{ dbt.type_string() }}) as record_key,
        'order quarantined' as reason,
        cast(null as {{ dbt.type_string() }}) as record_text,
        base_shop__order_items._dlt_load_id
    from base_shop__order_items
    inner join quarantined_orders
        on base_shop__order_items.order_id = quarantined_orders.order_id
    where base_shop__order_items.quarantine_reason is null
    union all
    select
        'load' as layer,
        'raw_' || source_system || '.' || coalesce(resource_name, source_name) as source_table,
        location || ':' || cast(record_position as {{ dbt.type_string() }}) as record_key,
        reason,
        raw_text as record_text,
        _dlt_load_id
    from loader_rejections
),

final as (
    select
        cast(
            md5(
                layer || '|' || source_table || '|' || coalesce(record_key, '') || '|' || reason
                || '|' || coalesce(_dlt_load_id, '') || '|' || cast(row_number() over (
                    partition by layer, source_table, record_key, reason, _dlt_load_id
                    order by record_text
                ) as {{ dbt.type_string() }})
            ) as {{ type_varchar() }}
        ) as quarantine_id,
        cast(layer as {{ type_varchar() }}) as layer,
        cast(source_table as {{ type_varchar() }}) as source_table,
        cast(record_key as {{ type_varchar() }}) as record_key,
        cast(reason as {{ type_varchar() }}) as reason,
        cast(record_text as {{ type_varchar() }}) as record_text,
        cast(_dlt_load_id as {{ type_varchar() }}) as dlt_load_id
    from unioned
)

select * from final
