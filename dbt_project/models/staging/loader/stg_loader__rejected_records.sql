{#- The loaders' own rejections (records that never reached a raw table), all systems. -#}
with

{% for system in ['crm', 'fx', 'shop', 'events'] %}
    {{ system }}_rejected as (
        select * from {{ source(system, 'rejected_records') }}
    ),

{% endfor -%}

unioned as (
    {% for system in ['crm', 'fx', 'shop', 'events'] -%}
        select
            '{{ system }}' as source_system,
            cast(source_name as {{ dbt.type_string() }}) as source_name,
            cast(resource_name as {{ dbt.type_string() }}) as resource_name,
            cast(location as {{ dbt.type_string() }}) as location,  -- noqa: RF04
            cast(position as bigint) as record_position,
            cast(raw_text as {{ dbt.type_string() }}) as raw_text,
            cast(reason as {{ dbt.type_string() }}) as reason,
            {{ to_utc_timestamp('rejected_at') }} as rejected_at,
            _dlt_load_id
        from {{ system }}_rejected
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
)

select * from unioned
