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
        price,
        _dlt_load_id
    from numbered
)

select * from sessionized
