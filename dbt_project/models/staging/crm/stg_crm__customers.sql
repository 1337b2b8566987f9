with

customers as (
    select * from {{ ref('base_crm__customers') }}
),

hard_deleted as (
    select * from {{ ref('base_crm__deleted_customers') }}
),

versioned as (
    select
        *,
        row_number() over (
            partition by customer_id
            order by updated_at desc, _dlt_load_id desc
        ) as version_rank
    from customers
),

cleaned as (
    select
        customer_id,
        email,
        {{ pii_hash('email') }} as email_hash,
        split_part(email, '@', 2) as email_domain,
        first_name,
        last_name,
        phone,
        country_code,
        city,
        case
            when signup_channel in ('organic', 'paid_search', 'social', 'referral', 'email')
                then signup_channel
            when signup_channel is null then 'unknown'
            else 'other'
        end as signup_channel,
        is_marketing_opt_in,
        address_line1,
        address_city,
        address_postal_code,
        address_country_code,
        created_at,
        updated_at,
        deleted_at as soft_deleted_at,
        customer_dlt_id,
        _dlt_load_id
    from versioned
    where version_rank = 1 and quarantine_reason is null
),

{# Deleted customers stay, flagged: their orders still reference them. #}
flagged as (
    select
        cleaned.*,
        coalesce(cleaned.soft_deleted_at, hard_deleted.deleted_at) as deleted_at,
        coalesce(cleaned.soft_deleted_at, hard_deleted.deleted_at) is not null as is_deleted
    from cleaned
    left join hard_deleted
        on cleaned.customer_id = hard_deleted.customer_id
)

select * from flagged
