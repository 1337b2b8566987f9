{#- Incremental: the pre-hook deletes the sessions sessionised again; the run appends them anew. -#}
{{
    config(
        materialized=in_place_materialization(parallel_select=true),
        incremental_strategy=append_strategy(),
        partition_by=date_partitions('session_date'),
        on_schema_change='fail',
        indexes=load_id_indexes(['_sessionized_load_id']),
        pre_hook=[
            "{{ record_build_window('_sessionized_load_id') }}",
            "
            {% if is_incremental() and deletes_in_place() %}
                delete from {{ this }}
                where session_id in (
                    select kept.session_id
                    from {{ this }} as kept
                    inner join (
                        select
                            anonymous_id,
                            min(session_number) as first_resessionized
                        from {{ ref('int_events_sessionized') }}
                        where _sessionized_load_id > {{ newest_kept_load('_sessionized_load_id') }}
                        group by anonymous_id
                    ) as resessionized
                        on
                            kept.anonymous_id = resessionized.anonymous_id
                            and kept.session_number >= resessionized.first_resessionized
                )
            {% endif %}
            "
        ]
    )
}}
with

events as {{ cte_materialized(false) }} (
    select
        *,
        case when event_type = 'page_view' then 1 else 0 end as is_page_view,
        case when event_type = 'product_view' then 1 else 0 end as is_product_view,
        case when event_type = 'add_to_cart' then 1 else 0 end as is_add_to_cart,
        case when event_type = 'checkout_started' then 1 else 0 end as is_checkout_started,
        case when event_type = 'purchase' then 1 else 0 end as is_purchase
    from {{ ref('int_events_sessionized') }}
    {% if is_incremental() %}
        where _sessionized_load_id > {{ newest_kept_load('_sessionized_load_id') }}
    {% endif %}
),

{% if one_event_shortcuts() %}
    {# a session of one event needs no aggregate: only the others are grouped #}
    several_event_sessions as {{ cte_materialized(true) }} ( -- noqa: ST03
        select session_id
        from events
        where event_sequence = 2
    ),
{% endif %}

aggregated as (
    select
        session_id,
        min(anonymous_id) as anonymous_id,
        max(customer_id) as customer_id,
        min(session_number) as session_number,
        min(occurred_at) as started_at,
        max(occurred_at) as ended_at,
        count(*) as event_count,
        sum(is_page_view) as page_view_count,
        max(is_product_view) as has_product_view,
        max(is_add_to_cart) as has_add_to_cart,
        max(is_checkout_started) as has_checkout_started,
        max(is_purchase) as has_purchase,
        -- the landing (first) event's fields in the same pass: no second scan, no join
        max(case when event_sequence = 1 then page_url end) as landing_page_url,
        max(case when event_sequence = 1 then referrer end) as landing_referrer,
        max(case when event_sequence = 1 then utm_source end) as landing_utm_source,
        max(case when event_sequence = 1 then utm_medium end) as landing_utm_medium,
        max(case when event_sequence = 1 then utm_campaign end) as landing_utm_campaign,
        max(case when event_sequence = 1 then device end) as landing_device,
        max(_sessionized_load_id) as _sessionized_load_id
    from events
    {% if one_event_shortcuts() %}
        where exists (
                select 1
                from several_event_sessions as several
                where several.session_id = events.session_id
            )
    {% endif %}
    group by session_id
    {% if one_event_shortcuts() %}
        union all
        select
            session_id,
            anonymous_id,
            customer_id,
            session_number,
            occurred_at as started_at,
            occurred_at as ended_at,
            1 as event_count,
            is_page_view as page_view_count,
            is_product_view as has_product_view,
            is_add_to_cart as has_add_to_cart,
            is_checkout_started as has_checkout_started,
            is_purchase as has_purchase,
            page_url as landing_page_url,
            referrer as landing_referrer,
            utm_source as landing_utm_source,
            utm_medium as landing_utm_medium,
            utm_campaign as landing_utm_campaign,
            device as landing_device,
            _sessionized_load_id
        from events
        where
            event_sequence = 1
            and not exists (
                select 1
                from several_event_sessions as several
                where several.session_id = events.session_id
            )
    {% endif %}
),

final as (
    select
        cast(aggregated.session_id as {{ type_varchar() }}) as session_id,
        cast(aggregated.anonymous_id as {{ type_varchar() }}) as anonymous_id,
        cast(aggregated.customer_id as bigint) as customer_id,
        cast(aggregated.session_number as integer) as session_number,
        cast(aggregated.started_at as timestamp) as started_at,
        cast(aggregated.ended_at as timestamp) as ended_at,
        cast(aggregated.started_at as date) as session_date,
        cast(
            {{ seconds_between('aggregated.started_at', 'aggregated.ended_at') }} as bigint
        ) as duration_seconds,
        cast(aggregated.landing_page_url as {{ type_varchar() }}) as landing_page_url,
        cast(
            case
                when aggregated.landing_utm_source is not null then aggregated.landing_utm_source
                when aggregated.landing_referrer is null then '(direct)'
                else lower(split_part(split_part(aggregated.landing_referrer, '://', 2), '/', 1))
            end as {{ type_varchar() }}
        ) as traffic_source,
        cast(
            case
                when aggregated.landing_utm_medium is not null then aggregated.landing_utm_medium
                when aggregated.landing_utm_source is not null then '(not set)'
                when aggregated.landing_referrer is null then '(none)'
                else 'referral'
            end as {{ type_varchar() }}
        ) as traffic_medium,
        cast(aggregated.landing_utm_campaign as {{ type_varchar() }}) as utm_campaign,
        cast(aggregated.landing_device as {{ type_varchar() }}) as device,
        cast(aggregated.event_count as bigint) as event_count,
        cast(aggregated.page_view_count as bigint) as page_view_count,
        cast(aggregated.has_product_view = 1 as boolean) as has_product_view,
        cast(aggregated.has_add_to_cart = 1 as boolean) as has_add_to_cart,
        cast(aggregated.has_checkout_started = 1 as boolean) as has_checkout_started,
        cast(aggregated.has_purchase = 1 as boolean) as is_converted,
        cast(aggregated._sessionized_load_id as {{ type_varchar() }}) as _sessionized_load_id
    from aggregated
)

{#- where sessions are not deleted in place, the sessionised-again ones are left out instead -#}
{{ complete_partitions('final', 'session_id', 'session_date', dropped=
    'exists (select 1 from ' ~ ref('int_events_sessionized') ~ ' as resessionized'
    ~ ' where resessionized._sessionized_load_id > '
    ~ newest_kept_load('_sessionized_load_id')
    ~ ' and resessionized.anonymous_id = target.anonymous_id'
    ~ ' and resessionized.session_number <= target.session_number)'
) }}
