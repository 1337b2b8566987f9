{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="
            {% if is_incremental() and deletes_in_place() %}
                delete from {{ this }}
                where raw_event_id in (
                    select redelivered.event_id
                    from {{ source('events', 'events') }} as redelivered
                    where redelivered._dlt_load_id > {{ newest_kept_load() }}
                )
            {% endif %}
        "
    )
}}
{#- Raw event rows staging refuses. Incremental: only the loads int_events_loads counts refusals
    in; the pre-hook drops rows the loader's merge has since replaced with a newer delivery. -#}
-- depends_on: {{ ref('int_events_loads') }}
with

{% if is_incremental() %}
    new_loads as {{ cte_materialized(true) }} (
        select _dlt_load_id
        from {{ ref('int_events_loads') }}
        where refused_count > 0 and _dlt_load_id > {{ newest_kept_load() }}
    ),

    {# a bound the scan can prune on; 'z' sorts after every load id (digits) when none is new #}
    first_new_load as {{ cte_materialized(true) }} (
        select coalesce(min(new_loads._dlt_load_id), 'z') as load_id
        from new_loads
    ),
{% endif %}

refused as (
    select
        event_id,
        raw_event_id,
        quarantine_reason,
        _dlt_load_id
    from {{ ref('base_events__events') }}
    where
        quarantine_reason is not null
        {% if is_incremental() %}
            and _dlt_load_id >= (select first_new_load.load_id from first_new_load)
            and _dlt_load_id in (select new_loads._dlt_load_id from new_loads)
        {% endif %}
)

select * from refused
