with

source as (
    select * from {{ source('crm', 'customers') }}
),

renamed as (
    select
        cast(id as bigint) as customer_id,
        nullif(lower(trim(email)), '') as email,
        nullif(trim(first_name), '') as first_name,
        nullif(trim(last_name), '') as last_name,
        nullif(trim(phone), '') as phone,
        upper(nullif(trim(country_code), '')) as country_code,
        nullif(trim(city), '') as city,
        lower(nullif(trim(signup_channel), '')) as signup_channel,
        cast(marketing_opt_in as boolean) as is_marketing_opt_in,
        nullif(trim(address__line1), '') as address_line1,
        nullif(trim(address__city), '') as address_city,
        nullif(trim(address__postal_code), '') as address_postal_code,
        upper(nullif(trim(address__country_code), '')) as address_country_code,
        {{ to_utc_timestamp('created_at') }} as created_at,
        {{ to_utc_timestamp('updated_at') }} as updated_at,
        {{ to_utc_timestamp('deleted_at') }} as deleted_at,
        _dlt_id as customer_dlt_id,
        _dlt_load_id
    from source
),

validated as (
    select
        *,
        case
            when customer_id is null then 'missing customer_id'
            when updated_at is null then 'missing updated_at'
            when email is not null and email not like '%_@_%' then 'malformed email'
        end as quarantine_reason
    from renamed
)

select * from validated
