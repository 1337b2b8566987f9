{% snapshot snap_customers %}
{{
    config(
        unique_key='customer_id',
        strategy='timestamp',
        updated_at='updated_at',
        invalidate_hard_deletes=false,
        enabled=snapshots_supported()
    )
}}
{#- History of customer profiles (SCD2); PII is kept as a hash only. -#}
select
    customer_id,
    email_hash,
    email_domain,
    country_code,
    city,
    signup_channel,
    is_marketing_opt_in,
    created_at,
    updated_at
from {{ ref('stg_crm__customers') }}
{% endsnapshot %}
