{#- RFM: recency, frequency and monetary value each scored 1-5 (5 best), then a segment. -#}
with

aggregated as (
    select * from {{ ref('int_customer_orders_aggregated') }}
),

as_of as (
    {% if var('as_of_date') -%}
        select cast('{{ var("as_of_date") }}' as date) as as_of_date
    {%- else -%}
        select cast(max(last_order_at) as date) as as_of_date
        from aggregated
    {%- endif %}
),

measured as (
    select
        aggregated.customer_id,
        aggregated.lifetime_orders,
        aggregated.lifetime_revenue,
        {{ dbt.datediff(
            'cast(aggregated.last_revenue_order_at as date)', 'as_of.as_of_date', 'day'
        ) }} as recency_days
    from aggregated
    cross join as_of
    where aggregated.lifetime_orders > 0
),

scored as (
    select
        customer_id,
        recency_days,
        lifetime_orders,
        lifetime_revenue,
        {{ quintile_score('recency_days desc') }} as recency_score,
        {{ quintile_score('lifetime_orders') }} as frequency_score,
        {{ quintile_score('lifetime_revenue') }} as monetary_score
    from measured
),

segmented as (
    select
        *,
        case
            when recency_score >= 4 and frequency_score >= 4 and monetary_score >= 4
                then 'champions'
            when recency_score >= 3 and frequency_score >= 3 then 'loyal'
            when recency_score >= 4 and frequency_score <= 2 then 'promising'
            when recency_score <= 2 and frequency_score >= 3 then 'at_risk'
            when recency_score <= 2 and frequency_score <= 2 then 'hibernating'
            else 'needs_attention'
        end as rfm_segment
    from scored
)

select * from segmented
