with

source as (
    select * from {{ source('fx', 'rates') }}
),

renamed as (
    select
        cast(date as date) as rate_date,
        upper(trim(currency)) as currency,
        cast(rate as numeric(18, 6)) as rate,
        upper(trim(base)) as quoted_against,
        _dlt_load_id
    from source
),

validated as (
    select
        *,
        case
            when rate_date is null then 'missing rate date'
            when currency is null then 'missing currency'
            when rate is null or rate <= 0 then 'non-positive rate'
        end as quarantine_reason
    from renamed
)

select * from validated
