{{ raw_schema_drift(
    source('shop', 'orders'),
    populated=[
        'customer_id',
        'status',
        'currency',
        'subtotal',
        'discount_amount',
        'shipping_amount',
        'total_amount',
        'created_at',
        'updated_at'
    ]
) }}
