with

orders as (
    select * from {{ ref('int_orders_enriched') }}
),

customers as (
    select * from {{ ref('stg_crm__customers') }}
),

countries as (
    select * from {{ ref('country_codes') }}
),

revenue_orders as (
    select
        orders.order_id,
        orders.customer_id,
        orders.order_date,
        orders.net_amount_base,
        orders.is_first_revenue_order,
        coalesce(customers.country_code, 'ZZ') as country_code
    from orders
    left join customers
        on orders.customer_id = customers.customer_id
    where orders.is_revenue
),

daily as (
    select
        order_date,
        country_code,
        count(*) as orders,
        sum(net_amount_base) as revenue,
        count(distinct customer_id) as customers,
        count(distinct case when is_first_revenue_order then customer_id end) as new_customers
    from revenue_orders
    group by order_date, country_code
),

final as (
    select
        cast(daily.order_date as date) as order_date,
        cast(daily.country_code as {{ type_varchar() }}) as country_code,
        cast(coalesce(countries.country_name, 'Unknown') as {{ type_varchar() }}) as country_name,
        cast(coalesce(countries.region, 'Unknown') as {{ type_varchar() }}) as region,
        cast('{{ var("base_currency") }}' as {{ type_varchar() }}) as base_currency,
        cast(daily.orders as bigint) as orders,
        cast(daily.revenue as numeric(18, 2)) as revenue,
        cast(daily.customers as bigint) as customers,
        cast(daily.new_customers as bigint) as new_customers,
        {#- the quotient as a decimal first: DuckDB divides decimals in double precision -#}
        cast(
            round(cast(daily.revenue / daily.orders as numeric(28, 10)), 2) as numeric(18, 2)
        ) as average_order_value
    from daily
    left join countries
        on daily.country_code = countries.country_code
)

select * from final
