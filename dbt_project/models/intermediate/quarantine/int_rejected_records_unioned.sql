with

{% for system in ['crm', 'fx', 'shop', 'events'] %}
    {{ system }}_rejected as (
        select * from {{ ref('stg_' ~ system ~ '__rejected_records') }}
    ),

{% endfor -%}

unioned as (
    {% for system in ['crm', 'fx', 'shop', 'events'] -%}
        select
            '{{ system }}' as source_system,
            {{ system }}_rejected.*
        from {{ system }}_rejected
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
)

select * from unioned
