with

customers as (
    select * from {{ ref('int_customers_deletes_flagged') }}
),

tags as (
    select * from {{ ref('stg_crm__customer_tags') }}
),

countries as (
    select * from {{ ref('country_codes') }}
),

free_email_domains as (
    select * from {{ ref('free_email_domains') }}
),

order_history as (
    select * from {{ ref('int_customer_orders_aggregated') }}
),

scores as (
    select * from {{ ref('int_customers_scored') }}
),

tags_per_customer as (
    select
        customer_dlt_id,
        {{ dbt.listagg('tag', "', '", 'order by tag') }} as tags
    from tags
    group by customer_dlt_id
),

joined as (
    select
        customers.customer_id,
        customers.email_hash,
        customers.email_domain,
        customers.country_code,
        customers.city,
        customers.signup_channel,
        customers.is_marketing_opt_in,
        tags_per_customer.tags,
        customers.created_at as signed_up_at,
        customers.updated_at,
        customers.is_deleted,
        customers.deleted_at,
        order_history.first_order_at,
        order_history.last_order_at,
        scores.recency_days as days_since_last_order,
        scores.recency_score,
        scores.frequency_score,
        scores.monetary_score,
        case
            when customers.email_domain is null then 'unknown'
            when free_email_domains.email_domain is not null then 'free_mail'
            else 'corporate'
        end as email_domain_type,
        customers.phone is not null as has_phone,
        coalesce(countries.country_name, 'Unknown') as country_name,
        coalesce(countries.region, 'Unknown') as region,
        coalesce(order_history.lifetime_orders_placed, 0) as lifetime_orders_placed,
        coalesce(order_history.lifetime_orders, 0) as lifetime_orders,
        coalesce(order_history.lifetime_revenue, 0) as lifetime_revenue,
        case
            when order_history.lifetime_orders > 0
                then order_history.lifetime_revenue / order_history.lifetime_orders
        end as average_order_value,
        coalesce(scores.rfm_segment, 'prospect') as rfm_segment
    from customers
    left join countries
        on customers.country_code = countries.country_code
    left join free_email_domains
        on customers.email_domain = free_email_domains.email_domain
    left join tags_per_customer
        on customers.customer_dlt_id = tags_per_customer.customer_dlt_id
    left join order_history
        on customers.customer_id = order_history.customer_id
    left join scores
        on customers.customer_id = scores.customer_id
),

final as (
    select
        cast(customer_id as bigint) as customer_id,
        cast(email_hash as {{ type_varchar() }}) as email_hash,
        cast(email_domain as {{ type_varchar() }}) as email_domain,
        cast(email_domain_type as {{ type_varchar() }}) as email_domain_type,
        cast(has_phone as boolean) as has_phone,
        cast(country_code as {{ type_varchar() }}) as country_code,
        cast(country_name as {{ type_varchar() }}) as country_name,
        cast(region as {{ type_varchar() }}) as region,
        cast(city as {{ type_varchar() }}) as city,
        cast(signup_channel as {{ type_varchar() }}) as signup_channel,
        cast(is_marketing_opt_in as boolean) as is_marketing_opt_in,
        cast(tags as {{ type_varchar() }}) as tags,
        cast(signed_up_at as timestamp) as signed_up_at,
        cast(updated_at as timestamp) as updated_at,
        cast(is_deleted as boolean) as is_deleted,
        cast(deleted_at as timestamp) as deleted_at,
        cast(first_order_at as timestamp) as first_order_at,
        cast(last_order_at as timestamp) as last_order_at,
        cast(lifetime_orders_placed as bigint) as lifetime_orders_placed,
        cast(lifetime_orders as bigint) as lifetime_orders,
        cast(lifetime_revenue as numeric(18, 2)) as lifetime_revenue,
        cast(
            round(cast(average_order_value as numeric(28, 10)), 2) as numeric(18, 2)
        ) as average_order_value,
        cast(days_since_last_order as integer) as days_since_last_order,
        cast(recency_score as integer) as recency_score,
        cast(frequency_score as integer) as frequency_score,
        cast(monetary_score as integer) as monetary_score,
        cast(
            case
                when recency_score is not null
                    then
                        cast(recency_score as {{ dbt.type_string() }})
                        || cast(frequency_score as {{ dbt.type_string() }})
                        || cast(monetary_score as {{ dbt.type_string() }})
            end as {{ type_varchar() }}
        ) as rfm_score,
        cast(rfm_segment as {{ type_varchar() }}) as rfm_segment
    from joined
)

select * from final
