{{ raw_schema_drift(
    source('events', 'events'),
    populated=[
        'event_id',
        'anonymous_id',
        'event_type',
        'url',
        'device',
        'occurred_at',
        'properties'
    ]
) }}
