{{
    config(
        materialized=in_place_materialization(),
        unique_key='event_id',
        meta={'version_column': '_sessionized_load_id'},
        incremental_strategy=upsert_strategy(),
        partition_by=date_partitions('event_date'),
        on_schema_change='fail',
        indexes=load_id_indexes(['_dlt_load_id', '_sessionized_load_id']),
        pre_hook="{{ record_build_window('_sessionized_load_id') }}"
    )
}}
{#- Incremental: only the tail of each visitor with new events is sessionised again. -#}
with

{% if is_incremental() %}
    new_events as (
        select
            event_id,
            anonymous_id,
            occurred_at,
            _dlt_load_id
        from {{ ref('stg_events__events') }}
        where _dlt_load_id > {{ newest_kept_load() }}
    ),

    {# each visitor with new events, from the earliest time that changed #}
    changed_visitors as (
        select
            anonymous_id,
            min(occurred_at) as changed_at
        from (
            select
                anonymous_id,
                occurred_at
            from new_events
            union all
            {# an event delivered again may have moved: its old place changes too #}
            select
                kept.anonymous_id,
                kept.occurred_at
            from {{ this }} as kept
            inner join new_events on kept.event_id = new_events.event_id
        ) as changes
        group by anonymous_id
    ),

    {# per returning visitor: is its change within the timeout of its last kept event, its last
       session, and where its history changes #}
    kept_visitors as (
        select
            changed.anonymous_id,
            changed.changed_at,
            {{ seconds_between('max(kept.occurred_at)', 'changed.changed_at') }}
            <= {{ var('session_timeout_minutes') }} * 60 as rereads_kept,
            max(kept.session_number) as last_session_number,
            max(case
                when kept.event_sequence = 1 and kept.occurred_at <= changed.changed_at
                    then kept.occurred_at
            end) as restart_at,
            max(case
                when kept.event_sequence = 1 and kept.occurred_at <= changed.changed_at
                    then kept.session_number
            end) as restart_session_number
        from changed_visitors as changed
        inner join {{ this }} as kept on changed.anonymous_id = kept.anonymous_id
        group by changed.anonymous_id, changed.changed_at
    ),

    {# a visitor whose changes all come after a session timeout keeps its history as it is and
       numbers on from its last session; the others restart at their last kept session begun
       by the change (none begun: at their first kept event) and reread the kept tail #}
    restart_points as (
        select
            anonymous_id,
            restart_at,
            rereads_kept,
            case
                when rereads_kept then coalesce(restart_session_number, 1) - 1
                else last_session_number
            end as sessions_before
        from kept_visitors
    ),

    {# every new event, and the kept tail of each visitor that rereads it, numbered on #}
    tail_events as {{ cte_materialized(false) }} (
        select
            new_rows.*,
            coalesce(restart_points.sessions_before, 0) as sessions_before
        from {{ ref('stg_events__events') }} as new_rows
        left join restart_points
            on new_rows.anonymous_id = restart_points.anonymous_id
        where new_rows._dlt_load_id > {{ newest_kept_load() }}
        union all
        select
            kept_rows.*,
            restart_points.sessions_before
        from {{ ref('stg_events__events') }} as kept_rows
        inner join restart_points
            on kept_rows.anonymous_id = restart_points.anonymous_id
        where
            restart_points.rereads_kept
            and kept_rows._dlt_load_id <= {{ newest_kept_load() }}
            and (
                restart_points.restart_at is null
                or kept_rows.occurred_at >= restart_points.restart_at
            )
    ),

    events as {{ cte_materialized(false) }} (
        select
            *,
            (select max(new_events._dlt_load_id) from new_events) as _sessionized_load_id
        from tail_events
    ),
{% else %}
    events as {{ cte_materialized(false) }} (
        select
            stg_events.*,
            0 as sessions_before,
            (select max(all_events._dlt_load_id) from {{ ref('stg_events__events') }} as all_events)
                as _sessionized_load_id
        from {{ ref('stg_events__events') }} as stg_events
    ),
{% endif %}

{% if one_event_shortcuts() %}
    {# a visitor with one event here begins one session with it: only the others need windows #}
    several_event_visitors as {{ cte_materialized(true) }} ( -- noqa: ST03
        select anonymous_id
        from events
        group by anonymous_id
        having count(*) > 1
    ),
{% endif %}

{# one ordering (visitor, time) for all windows; the place in a session is a running max away #}
gaps as (
    select
        *,
        lag(occurred_at) over visitor_history as previous_occurred_at,
        row_number() over visitor_history as visitor_event_number
    from events
    {% if one_event_shortcuts() %}
        where exists (
                select 1
                from several_event_visitors as several
                where several.anonymous_id = events.anonymous_id
            )
    {% endif %}
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
        sessions_before + sum(is_session_start) over visitor_so_far as session_number,
        max(case when is_session_start = 1 then visitor_event_number end)
            over visitor_so_far as session_first_number
    from flagged
    window
        visitor_so_far as (
            partition by anonymous_id
            order by occurred_at, event_id
            rows between unbounded preceding and current row
        )
    {% if one_event_shortcuts() %}
        union all
        select
            *,
            cast(null as timestamp) as previous_occurred_at,
            1 as visitor_event_number,
            1 as is_session_start,
            sessions_before + 1 as session_number,
            1 as session_first_number
        from events
        where not exists (
                select 1
                from several_event_visitors as several
                where several.anonymous_id = events.anonymous_id
            )
    {% endif %}
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
        _dlt_load_id,
        _sessionized_load_id
    from numbered
)

{{ complete_partitions('sessionized', 'event_id', 'event_date') }}
