{#- Each load's refused share: rejected by the loaders, or quarantined in staging since. -#}
with

runs as (
    select * from {{ ref('stg_ops__runs') }}
),

run_tables as (
    select * from {{ ref('stg_ops__run_tables') }}
),

run_sources as (
    select * from {{ ref('stg_ops__run_sources') }}
),

{% set quarantine_model = var('ops_quarantine_model', none) %}

received as (
    select
        run_id,
        sum(
            case
                when
                    table_name not like '%.rejected_records'
                    and table_name not like '%.deleted_records'
                    then rows_loaded
                else 0
            end
        ) as rows_loaded,
        sum(rows_rejected) as rows_rejected_at_load
    from run_tables
    group by run_id
),

run_loads as (
    select distinct
        run_id,
        load_ids
    from run_sources
    where load_ids is not null
),

{# a staging refusal belongs to the run whose loads list its dlt load id #}
quarantined as (
    {%- if quarantine_model %}
        select
            run_loads.run_id,
            count(
                distinct quarantine.source_table || '|' || quarantine.record_key
                || '|' || quarantine.dlt_load_id
            ) as rows_quarantined_in_staging
        from run_loads
        inner join {{ ref(quarantine_model) }} as quarantine
            on run_loads.load_ids like '%"' || quarantine.dlt_load_id || '"%'
        where quarantine.layer = 'staging'
        group by run_loads.run_id
    {%- else %}
        {#- without a quarantine model only the loaders' rejections are known #}
        select
            run_id,
            0 as rows_quarantined_in_staging
        from run_loads
        where 1 = 0
    {%- endif %}
),

final as (
    select
        received.run_id,
        runs.command,
        runs.run_status,
        runs.started_at,
        received.rows_loaded,
        received.rows_rejected_at_load,
        coalesce(quarantined.rows_quarantined_in_staging, 0) as rows_quarantined_in_staging,
        round(
            cast(
                received.rows_rejected_at_load
                + coalesce(quarantined.rows_quarantined_in_staging, 0) as numeric
            )
            / nullif(received.rows_loaded + received.rows_rejected_at_load, 0),
            6
        ) as quarantine_share
    from received
    inner join runs
        on received.run_id = runs.run_id
    left join quarantined
        on received.run_id = quarantined.run_id
    where received.rows_loaded + received.rows_rejected_at_load > 0
)

select * from final
