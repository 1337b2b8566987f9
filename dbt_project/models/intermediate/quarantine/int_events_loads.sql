{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ record_build_window('_dlt_load_id') }}"
    )
}}
{#- One row per raw events load: its rows and how many staging refuses. Incremental: new loads. -#}
select
    _dlt_load_id,
    count(*) as row_count,
    sum(case when quarantine_reason is not null then 1 else 0 end) as refused_count
from {{ ref('base_events__events') }}
{% if is_incremental() %}
    where _dlt_load_id > {{ newest_kept_load() }}
{% endif %}
group by _dlt_load_id
