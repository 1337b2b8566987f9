{{
    config(
        materialized='incremental',
        unique_key='order_id',
        incremental_strategy=upsert_strategy(),
        partition_by=date_partitions('order_date'),
        on_schema_change='fail',
        post_hook=[
            "{{ remove_rows('not exists (select 1 from ' ~ ref('int_orders_converted') ~ ' as kept where kept.order_id = target.order_id)', 'order_date') }}"
        ]
    )
}}
{#- Incremental: all orders of each customer with a change, so order numbers stay right. -#}
{#- The post-hook drops orders refused or deleted since: NOT EXISTS (anti-join), not NOT IN;
    on Spark the final select leaves them out and the hook drops partitions left with none. -#}
-- depends_on: {{ ref('base_shop__orders') }}
-- depends_on: {{ ref('stg_shop__deleted_records') }}
-- depends_on: {{ ref('int_orders_converted') }}
with

orders as (
    select * from {{ ref('int_orders_enriched') }}
),

{% if is_incremental() %}
    changed_orders as (
        select * from {{ ref('base_shop__orders') }}
    ),

    deleted_orders as (
        select record_key
        from {{ ref('stg_shop__deleted_records') }}
        where table_name = 'orders' and is_deleted
    ),

    {# orders updated within orders_lookback_days of the newest kept #}
    cutoff as (
        select
        {{ dbt.dateadd(
            'day',
            -1 * var('orders_lookback_days'),
            "coalesce(max(updated_at), cast('1900-01-01' as timestamp))"
        ) }} as updated_since
        from {{ this }}
    ),

    changed_customers as (
        select distinct changed_orders.customer_id
        from changed_orders
        cross join cutoff
        where
            changed_orders.updated_at >= cutoff.updated_since
            {% if var('start_date') and var('end_date') %}
                {#- backfill: also rebuild the customers with orders placed in the window -#}
                or (
                    changed_orders.created_at >= cast('{{ var("start_date") }}' as timestamp)
                    and changed_orders.created_at < {{ dbt.dateadd(
                        'day', 1, "cast('" ~ var('end_date') ~ "' as timestamp)"
                    ) }}
                )
            {% endif %}
        union
        {# customers whose loaded orders were since removed from the source (hard deletes) #}
        select loaded.customer_id
        from {{ this }} as loaded
        inner join deleted_orders
            on cast(loaded.order_id as {{ dbt.type_string() }}) = deleted_orders.record_key
    ),
{% endif %}

selected as (
    select orders.*
    from orders
    {% if is_incremental() %}
        where exists (
                select 1
                from changed_customers
                where changed_customers.customer_id = orders.customer_id
            )
    {% endif %}
),

final as (
    select
        cast(order_id as bigint) as order_id,
        cast(customer_id as bigint) as customer_id,
        cast(customer_order_number as integer) as customer_order_number,
        cast(is_first_order as boolean) as is_first_order,
        cast(status as {{ type_varchar() }}) as status,
        cast(is_revenue as boolean) as is_revenue,
        cast(currency as {{ type_varchar() }}) as currency,
        cast(subtotal as numeric(18, 2)) as subtotal,
        cast(discount_amount as numeric(18, 2)) as discount_amount,
        cast(shipping_amount as numeric(18, 2)) as shipping_amount,
        cast(total_amount as numeric(18, 2)) as total_amount,
        cast(net_amount as numeric(18, 2)) as net_amount,
        cast('{{ var("base_currency") }}' as {{ type_varchar() }}) as base_currency,
        cast(fx_rate_date as date) as fx_rate_date,
        cast(fx_rate as numeric(18, 6)) as fx_rate,
        cast(total_amount_base as numeric(18, 2)) as total_amount_base,
        cast(net_amount_base as numeric(18, 2)) as net_amount_base,
        cast(line_count as integer) as line_count,
        cast(item_count as integer) as item_count,
        cast(is_first_revenue_order as boolean) as is_first_revenue_order,
        cast(created_at as timestamp) as created_at,
        cast(order_date as date) as order_date,
        cast(updated_at as timestamp) as updated_at
    from selected
)

{{ complete_partitions('final', 'order_id', 'order_date', dropped=
    'not exists (select 1 from ' ~ ref('int_orders_converted') ~ ' as kept'
    ~ ' where kept.order_id = target.order_id)'
) }}
