with

campaigns as (
    select * from {{ ref('base_crm__campaigns') }}
),

versioned as (
    select
        *,
        row_number() over (
            partition by campaign_id
            order by updated_at desc, _dlt_load_id desc
        ) as version_rank
    from campaigns
),

cleaned as (
    select
        campaign_id,
        campaign_name,
        channel,
        budget,
        currency,
        started_at,
        ended_at,
        updated_at,
        _dlt_load_id
    from versioned
    where version_rank = 1 and quarantine_reason is null
)

select * from cleaned
