"""Constants of the simulated shop: volumes per scale unit, reference data and name pools."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_DEMO_DIR = "demo_data"
DEFAULT_SEED = 42

# Volumes per day for scale 1 (a scale of 1000 gives the 10M-event day).
EVENTS_PER_SCALE = 10_000
ORDERS_PER_SCALE = 1_000
NEW_CUSTOMERS_PER_SCALE = 100
UPDATED_CUSTOMERS_PER_SCALE = 100
EVENT_CHUNK_ROWS = 1_000_000  # rows generated and written per chunk (bounded memory)
DB_BATCH_ROWS = 100_000  # rows per executemany batch

# Share of each day's events written per format (the rest goes to Parquet).
JSONL_SHARE = 0.1
CSV_SHARE = 0.1

# Relative volume by weekday (Monday first) and by UTC hour: the shop's seasonality.
WEEKDAY_FACTOR = (0.95, 0.92, 0.94, 0.98, 1.08, 1.10, 1.03)
HOUR_WEIGHTS = (
    2, 1, 1, 1, 1, 2, 3, 5, 6, 7, 7, 7, 8, 8, 7, 7, 7, 8, 9, 10, 10, 9, 6, 4,
)  # fmt: skip

BASE_CURRENCY = "USD"
# Units of currency per 1 USD at the start of the random walk.
FX_START = {
    "USD": 1.0,
    "EUR": 0.92,
    "GBP": 0.79,
    "JPY": 151.0,
    "CAD": 1.36,
    "AUD": 1.52,
    "SEK": 10.6,
}
FX_DAILY_VOLATILITY = 0.004
FX_LEAD_DAYS = 7  # rates start this many days before the first simulated day

# country -> (weight, currency, cities)
COUNTRIES: dict[str, tuple[float, str, tuple[str, ...]]] = {
    "US": (0.36, "USD", ("New York", "Austin", "Seattle", "Chicago", "San José")),
    "GB": (0.12, "GBP", ("London", "Manchester", "Edinburgh", "Bristol")),
    "DE": (0.10, "EUR", ("Berlin", "München", "Köln", "Hamburg")),
    "FR": (0.08, "EUR", ("Paris", "Lyon", "Marseille", "Nantes")),
    "ES": (0.04, "EUR", ("Madrid", "Barcelona", "Sevilla")),
    "PL": (0.03, "EUR", ("Warszawa", "Kraków", "Łódź")),
    "JP": (0.07, "JPY", ("東京", "大阪", "Kyoto")),
    "CA": (0.07, "CAD", ("Toronto", "Montréal", "Vancouver")),
    "AU": (0.07, "AUD", ("Sydney", "Melbourne", "Brisbane")),
    "SE": (0.06, "SEK", ("Stockholm", "Göteborg", "Malmö")),
}
# Currencies whose prices carry no minor unit.
ZERO_DECIMAL_CURRENCIES = frozenset({"JPY"})

# (display name, ascii slug for e-mail addresses)
FIRST_NAMES = (
    ("Zoë", "zoe"), ("Łukasz", "lukasz"), ("José", "jose"), ("美咲", "misaki"), ("Anna", "anna"),
    ("Liam", "liam"), ("Olivia", "olivia"), ("Noah", "noah"), ("Emma", "emma"), ("Chloé", "chloe"),
    ("Søren", "soren"), ("Mia", "mia"), ("Jürgen", "jurgen"), ("François", "francois"),
    ("Siobhán", "siobhan"), ("Ahmed", "ahmed"), ("Priya", "priya"), ("Hiroshi", "hiroshi"),
    ("Björn", "bjorn"), ("Inés", "ines"), ("Mateo", "mateo"), ("Ava", "ava"), ("Lucas", "lucas"),
    ("Sofia", "sofia"), ("Ethan", "ethan"), ("Grace", "grace"), ("Agnieszka", "agnieszka"),
    ("陽翔", "haruto"), ("Zoé", "zoe"), ("Renée", "renee"),
)  # fmt: skip
LAST_NAMES = (
    ("Smith", "smith"), ("Müller", "muller"), ("García", "garcia"), ("Nowak", "nowak"),
    ("Dubois", "dubois"), ("佐藤", "sato"), ("Johnson", "johnson"), ("O'Brien", "obrien"),
    ("Jensen", "jensen"), ("Rossi", "rossi"), ("Kowalczyk", "kowalczyk"), ("Brown", "brown"),
    ("Núñez", "nunez"), ("Lefèvre", "lefevre"), ("Andersson", "andersson"), ("Tanaka", "tanaka"),
    ("Wilson", "wilson"), ("Schröder", "schroder"), ("Martin", "martin"), ("Lee", "lee"),
    ("van der Berg", "vanderberg"), ("Ødegaard", "odegaard"), ("鈴木", "suzuki"),
    ("Taylor", "taylor"),
)  # fmt: skip
EMAIL_DOMAINS = ("example.com", "mail.example.org", "Example.NET", "inbox.example.co.uk")
SIGNUP_CHANNELS = ("organic", "paid_search", "social", "referral", "email")
SIGNUP_CHANNEL_WEIGHTS = (0.4, 0.2, 0.2, 0.1, 0.1)
CUSTOMER_TAGS = ("vip", "newsletter", "wholesale", "beta", "churn_risk", "gift_buyer")
STREETS = ("Main St", "Hauptstraße", "Rue de la Paix", "High Street", "Calle Mayor", "Storgatan")

PRODUCT_CATEGORIES = ("apparel", "shoes", "home", "beauty", "electronics", "books", "toys")
PRODUCT_ADJECTIVES = ("Classic", "Organic", "Ultra", "Everyday", "Vintage", "Smart", "Cosy")
PRODUCT_NOUNS = {
    "apparel": ("T-Shirt", "Hoodie", "Jacket", "Scarf"),
    "shoes": ("Sneaker", "Boot", "Sandal"),
    "home": ("Mug", "Lamp", "Blanket", "Vase"),
    "beauty": ("Serum", "Soap", "Lip Balm"),
    "electronics": ("Headphones", "Charger", "Speaker"),
    "books": ("Cookbook", "Novel", "Atlas"),
    "toys": ("Puzzle", "Robot", "Kite"),
}

CAMPAIGN_CHANNELS = ("paid_search", "social", "email", "affiliate", "display")
INITIAL_CAMPAIGNS = 12

ORDER_STATUSES = ("placed", "paid", "shipped", "delivered", "cancelled", "refunded")
REVENUE_STATUSES = ("paid", "shipped", "delivered")

EVENT_TYPES = ("page_view", "product_view", "add_to_cart", "checkout_started", "purchase")
# Weights of the non-purchase event types (purchases follow the day's orders).
BROWSE_EVENT_WEIGHTS = (0.55, 0.30, 0.10, 0.05)
DEVICES = ("desktop", "mobile", "tablet")
DEVICE_WEIGHTS = (0.45, 0.45, 0.10)
REFERRERS = (
    "https://www.google.com/", "https://www.facebook.com/", "https://t.co/",
    "https://news.example.org/", "https://www.bing.com/",
)  # fmt: skip
UTM_SOURCES = ("google", "facebook", "newsletter", "instagram", "partner")
UTM_MEDIUMS = ("cpc", "social", "email", "social", "affiliate")
# Offsets (minutes) in which events report their local time; "Z" is UTC spelled the short way.
EVENT_OFFSETS = (
    (0, "Z"), (0, "+00:00"), (60, "+01:00"), (120, "+02:00"), (-300, "-05:00"),
    (-420, "-07:00"), (330, "+05:30"), (540, "+09:00"), (600, "+10:00"),
)  # fmt: skip
EVENT_COLUMNS = (
    "event_id", "anonymous_id", "customer_id", "event_type", "url", "referrer", "utm_source",
    "utm_medium", "utm_campaign", "device", "occurred_at", "properties",
)  # fmt: skip

# Schema drift kinds accepted by `advance --drift`.
DRIFT_KINDS = ("added", "renamed", "retyped")


def demo_dir(value: str | os.PathLike[str] | None = None) -> Path:
    """Resolve the demo directory: an explicit value, else `$DEMO_DIR`, else `demo_data`."""
    return Path(value or os.environ.get("DEMO_DIR") or DEFAULT_DEMO_DIR)
