{{ raw_schema_drift(
    source('fx', 'rates'),
    populated=[
        'date',
        'currency',
        'rate'
    ]
) }}
