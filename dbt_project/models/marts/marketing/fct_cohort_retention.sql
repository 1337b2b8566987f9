{#- Cohort = month of the first revenue order; active = a revenue order in the month. -#}
with

orders as (
    select * from {{ ref('int_orders_enriched') }}
),

customer_months as (
    select distinct
        customer_id,
        cast({{ dbt.date_trunc('month', 'cast(order_date as timestamp)') }} as date) as order_month
    from orders
    where is_revenue
),

cohorts as (
    select
        customer_id,
        min(order_month) as cohort_month
    from customer_months
    group by customer_id
),

cohort_sizes as (
    select
        cohort_month,
        count(*) as cohort_size
    from cohorts
    group by cohort_month
),

activity as (
    select
        cohorts.cohort_month,
        customer_months.order_month,
        count(*) as active_customers
    from customer_months
    inner join cohorts
        on customer_months.customer_id = cohorts.customer_id
    group by cohorts.cohort_month, customer_months.order_month
),

final as (
    select
        cast(activity.cohort_month as date) as cohort_month,
        cast(
            {{ dbt.datediff('activity.cohort_month', 'activity.order_month', 'month') }}
            as integer
        ) as months_since_first_order,
        cast(cohort_sizes.cohort_size as bigint) as cohort_size,
        cast(activity.active_customers as bigint) as active_customers,
        cast(
            round(cast(activity.active_customers as numeric) / cohort_sizes.cohort_size, 4)
            as numeric(9, 4)
        ) as retention_rate
    from activity
    inner join cohort_sizes
        on activity.cohort_month = cohort_sizes.cohort_month
)

select * from final
