{#-
    A visitor's (anonymous_id) session ends after `session_timeout_minutes` without an event;
    the next event starts a new session. session_id = md5(anonymous_id || '-' || number).
-#}
with

events as (
    select * from {{ ref('stg_events__events') }}
),

gaps as (
    select
        *,
        lag(occurred_at) over (
            partition by anonymous_id
            order by occurred_at, event_id
        ) as previous_occurred_at
    from events
),

flagged as (
    select
        *,
        case
            when previous_occurred_at is null then 1
            when {{ seconds_between('previous_occurred_at', 'occurred_at') }}
                > {{ var('session_timeout_minutes') }} * 60 then 1
            else 0
        end as is_session_start
    from gaps
),

numbered as (
    select
        *,
        sum(is_session_start) over (
            partition by anonymous_id
            order by occurred_at, event_id
            rows between unbounded preceding and current row
        ) as session_number
    from flagged
),

sessionized as (
    select
        md5(anonymous_id || '-' || cast(session_number as {{ dbt.type_string() }})) as session_id,
        cast(session_number as integer) as session_number,
        row_number() over (
            partition by anonymous_id, session_number
            order by occurred_at, event_id
        ) as event_sequence,
        event_id,
        anonymous_id,
        customer_id,
        event_type,
        page_url,
        referrer,
        utm_source,
        utm_medium,
        utm_campaign,
        device,
        occurred_at,
        event_date,
        product_id,
        order_id,
        price
    from numbered
)

select * from sessionized
