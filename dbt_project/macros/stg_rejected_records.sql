{#- The staging model of one system's rejected_records: every raw table of that name is alike. -#}
{% macro stg_rejected_records(system) -%}
with

source as (
    select * from {{ source(system, 'rejected_records') }}
),

renamed as (
    select
        cast(source_name as {{ dbt.type_string() }}) as source_name,
        cast(resource_name as {{ dbt.type_string() }}) as resource_name,
        cast(location as {{ dbt.type_string() }}) as location,  -- noqa: RF04
        cast(position as bigint) as record_position,
        cast(raw_text as {{ dbt.type_string() }}) as raw_text,
        cast(reason as {{ dbt.type_string() }}) as reason,
        {{ to_utc_timestamp('rejected_at') }} as rejected_at,
        _dlt_load_id
    from source
),

{# one row per file and line where raw is append-only (merged raw holds only that one) #}
latest as (
    {{ latest_version_per_key('renamed', ['location', 'record_position'], '_dlt_load_id desc') }}
),

final as (
    select
        source_name,
        resource_name,
        location,  -- noqa: RF04
        record_position,
        raw_text,
        reason,
        rejected_at,
        _dlt_load_id
    from latest
)

select * from final
{%- endmacro %}
