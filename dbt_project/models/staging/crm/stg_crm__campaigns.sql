with

campaigns as (
    select * from {{ ref('base_crm__campaigns') }}
),

latest as (
    {{ latest_version_per_key('campaigns', 'campaign_id', 'updated_at desc, _dlt_load_id desc') }}
),

accepted as (
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
    from latest
    where quarantine_reason is null
)

select * from accepted
