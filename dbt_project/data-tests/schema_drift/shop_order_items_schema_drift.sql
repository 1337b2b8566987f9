{{ raw_schema_drift(
    source('shop', 'order_items'),
    populated=[
        'order_id',
        'product_id',
        'quantity',
        'unit_price'
    ]
) }}
