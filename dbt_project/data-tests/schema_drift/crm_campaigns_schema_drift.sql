{{ raw_schema_drift(
    source('crm', 'campaigns'),
    populated=[
        'name',
        'channel',
        'budget',
        'currency',
        'started_at',
        'updated_at'
    ]
) }}
