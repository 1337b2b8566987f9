{{ raw_schema_drift(
    source('shop', 'products'),
    populated=[
        'sku',
        'name',
        'category',
        'list_price',
        'currency'
    ]
) }}
