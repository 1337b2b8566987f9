{#- Deleted customers stay, flagged: their orders still reference them. -#}
with

customers as (
    select * from {{ ref('stg_crm__customers') }}
),

deleted_customers as (
    select * from {{ ref('stg_crm__deleted_customers') }}
),

flagged as (
    select
        customers.*,
        coalesce(customers.soft_deleted_at, deleted_customers.deleted_at) as deleted_at,
        coalesce(customers.soft_deleted_at, deleted_customers.deleted_at) is not null
            as is_deleted
    from customers
    left join deleted_customers
        on customers.customer_id = deleted_customers.customer_id
)

select * from flagged
