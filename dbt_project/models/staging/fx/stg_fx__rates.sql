with

rates as (
    select * from {{ ref('base_fx__rates') }}
),

versioned as (
    select
        *,
        row_number() over (
            partition by rate_date, currency
            order by _dlt_load_id desc
        ) as version_rank
    from rates
),

cleaned as (
    select
        rate_date,
        currency,
        rate,
        quoted_against,
        _dlt_load_id
    from versioned
    where version_rank = 1 and quarantine_reason is null
)

select * from cleaned
