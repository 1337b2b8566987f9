{#- Sessions per start date reaching each step: one event of its type, in any order. -#}
with

sessions as (
    select * from {{ ref('fct_sessions') }}
),

daily as (
    select
        session_date,
        count(*) as step_1,
        sum(case when has_product_view then 1 else 0 end) as step_2,
        sum(case when has_add_to_cart then 1 else 0 end) as step_3,
        sum(case when has_checkout_started then 1 else 0 end) as step_4,
        sum(case when is_converted then 1 else 0 end) as step_5
    from sessions
    group by session_date
),

steps as (
    {% set steps = ['page_view', 'product_view', 'add_to_cart', 'checkout_started', 'purchase'] %}
    {% for step in steps -%}
        select
            session_date,
            {{ loop.index }} as step_number,
            '{{ step }}' as step_name,
            step_{{ loop.index }} as sessions,
            step_1 as first_step_sessions,
            {{ 'step_' ~ (loop.index - 1) if not loop.first else 'step_1' }}
                as previous_step_sessions
        from daily
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

final as (
    select
        cast(session_date as date) as session_date,
        cast(step_number as integer) as step_number,
        cast(step_name as {{ type_varchar() }}) as step_name,
        cast(sessions as bigint) as sessions,
        cast(
            round(cast(sessions as numeric) / nullif(first_step_sessions, 0), 4)
            as numeric(9, 4)
        ) as share_of_sessions,
        cast(
            round(cast(sessions as numeric) / nullif(previous_step_sessions, 0), 4)
            as numeric(9, 4)
        ) as share_of_previous_step
    from steps
)

select * from final
