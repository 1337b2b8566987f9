with

customers as (
    select * from {{ ref('base_crm__customers') }}
),

latest as (
    {{ latest_version_per_key('customers', 'customer_id', 'updated_at desc, _dlt_load_id desc') }}
),

accepted as (
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
    from latest
    where quarantine_reason is null
)

select * from accepted
