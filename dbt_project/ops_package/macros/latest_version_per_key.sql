{#- The latest row per key of `relation` (a ref or a CTE name), the first by `order_by`. -#}
{% macro latest_version_per_key(relation, key, order_by) -%}
    {%- set partition_by = key if key is string else key | join(', ') -%}
    select *
    from (
        select
            *,
            row_number() over (
                partition by {{ partition_by }}
                order by {{ order_by }}
            ) as version_rank
        from {{ relation }}
    ) as versioned
    where version_rank = 1
{%- endmacro %}
