{#- Pre-hook of fct_sessions: before an incremental run inserts the sessions that
    int_events_sessionized computed again, delete each such visitor's kept sessions from the
    first number computed again on (sessions can merge, so some numbers disappear). -#}
{% macro delete_resessionized_sessions() -%}
    {%- if is_incremental() -%}
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
    {%- endif -%}
{%- endmacro %}
