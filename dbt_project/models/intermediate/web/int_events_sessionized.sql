{{
    config(
        materialized='incremental',
        unique_key='anonymous_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail'
    )
}}
{#-
    A visitor's (anonymous_id) session ends after `session_timeout_minutes` without an event;
    the next event starts a new session. session_id = md5(anonymous_id || '-' || number).
    Incremental: the visitors with events from loads newer than the newest one here are
    re-sessionised over their whole history (late events can merge or split their sessions) and
    replace their old rows (delete+insert on anonymous_id); other visitors are not read.
-#}
with

{% if is_incremental() %}
    changed_visitors as (
        select distinct new_events.anonymous_id
        from {{ ref('stg_events__events') }} as new_events
        where
            new_events._dlt_load_id
            > (select coalesce(max(kept._dlt_load_id), '') from {{ this }} as kept)
    ),
{% endif %}

events as (
    select stg_events.*
    from {{ ref('stg_events__events') }} as stg_events
    {% if is_incremental() %}
        inner join changed_visitors
            on stg_events.anonymous_id = changed_visitors.anonymous_id
    {% endif %}
),

{# Every window shares one ordering (visitor, time): the position within the session is the
    position in the visitor's history minus that of the session's first event (a running
    maximum), so the events are not sorted a third time by session. -#}
gaps as (
    select
        *,
        lag(occurred_at) over visitor_history as previous_occurred_at,
        row_number() over visitor_history as visitor_event_number
    from events
    window visitor_history as (partition by anonymous_id order by occurred_at, event_id)
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
        sum(is_session_start) over visitor_so_far as session_number,
        max(case when is_session_start = 1 then visitor_event_number end)
            over visitor_so_far as session_first_number
    from flagged
    window visitor_so_far as (
        partition by anonymous_id
        order by occurred_at, event_id
        rows between unbounded preceding and current row
    )
),

sessionized as (
    select
        md5(anonymous_id || '-' || cast(session_number as {{ dbt.type_string() }})) as session_id,
        cast(session_number as integer) as session_number,
        visitor_event_number - session_first_number + 1 as event_sequence,
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
        price,
        _dlt_load_id
    from numbered
)

select * from sessionized
