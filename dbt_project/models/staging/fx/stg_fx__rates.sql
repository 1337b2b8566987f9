with

rates as (
    select * from {{ ref('base_fx__rates') }}
),

latest as (
    {{ latest_version_per_key('rates', ['rate_date', 'currency'], '_dlt_load_id desc') }}
),

accepted as (
    select
        rate_date,
        currency,
        rate,
        quoted_against,
        _dlt_load_id
    from latest
    where quarantine_reason is null
)

select * from accepted
