{{ raw_schema_drift(
    source('crm', 'customers'),
    populated=[
        'email',
        'country_code',
        'signup_channel',
        'marketing_opt_in',
        'created_at',
        'updated_at'
    ]
) }}
