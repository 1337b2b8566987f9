with

source as (
    select * from {{ source('crm', 'campaigns') }}
),

renamed as (
    select
        cast(id as bigint) as campaign_id,
        trim(name) as campaign_name,
        lower(trim(channel)) as channel,
        cast(budget as numeric(18, 2)) as budget,
        upper(trim(currency)) as currency,
        {{ to_utc_timestamp('started_at') }} as started_at,
        {{ to_utc_timestamp('ended_at') }} as ended_at,
        {{ to_utc_timestamp('updated_at') }} as updated_at,
        _dlt_load_id
    from source
),

validated as (
    select
        *,
        case
            when campaign_id is null then 'missing campaign_id'
            when budget < 0 then 'negative budget'
            when currency not in ({{ sql_string_list(var('accepted_currencies')) }})
                then 'unknown currency'
        end as quarantine_reason
    from renamed
)

select * from validated
