with

source as (
    select * from {{ source('fx', 'rates') }}
),

renamed as (
    select
        cast(date as date) as rate_date,
        cast(rate as numeric(18, 6)) as rate,
        _dlt_load_id,
        upper(trim(currency)) as currency,
        upper(trim(base)) as quoted_against
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
