"""A tiny raw layer written by SQL, shaped like the loaders' output (docs/interfaces.md).

Lets the dbt project build and be tested without the demo system or the loaders. It carries
the edge cases the models must handle: a weekend without FX rates, a soft-deleted order, an
order in an unknown currency, a negative quantity, a late event and a 30-minute session gap.
"""

from __future__ import annotations

from typing import Any

DDL = """
create schema if not exists raw_crm;
create schema if not exists raw_fx;
create schema if not exists raw_shop;
create schema if not exists raw_events;
create table raw_crm.customers (
    id bigint, email text, first_name text, last_name text, phone text, country_code text,
    city text, signup_channel text, marketing_opt_in boolean,
    created_at timestamp with time zone, updated_at timestamp with time zone,
    address__line1 text, address__city text, address__postal_code text,
    address__country_code text, _dlt_load_id text not null, _dlt_id text not null
);
create table raw_crm.customers__tags (
    value text, _dlt_parent_id text not null, _dlt_list_idx bigint not null,
    _dlt_root_id text not null, _dlt_id text not null
);
create table raw_crm.campaigns (
    id bigint, name text, channel text, budget double precision, currency text,
    started_at timestamp with time zone, ended_at timestamp with time zone,
    updated_at timestamp with time zone, _dlt_load_id text not null, _dlt_id text not null
);
create table raw_fx.rates (
    date text, currency text, rate double precision, base text,
    _dlt_load_id text not null, _dlt_id text not null
);
create table raw_shop.products (
    product_id bigint, sku text, name text, category text, list_price numeric(12, 2),
    currency text, is_active boolean, created_at timestamp, updated_at timestamp,
    _dlt_load_id text not null, _dlt_id text not null
);
create table raw_shop.orders (
    order_id bigint, customer_id bigint, status text, currency text, subtotal numeric(12, 2),
    discount_amount numeric(12, 2), shipping_amount numeric(12, 2), total_amount numeric(12, 2),
    created_at timestamp, updated_at timestamp, deleted_at timestamp,
    _dlt_load_id text not null, _dlt_id text not null
);
create table raw_shop.order_items (
    order_item_id bigint, order_id bigint, product_id bigint, quantity bigint,
    unit_price numeric(12, 2), created_at timestamp, updated_at timestamp,
    _dlt_load_id text not null, _dlt_id text not null
);
create table raw_events.events (
    event_id text, anonymous_id text, customer_id bigint, event_type text, url text,
    referrer text, utm_source text, utm_medium text, utm_campaign text, device text,
    occurred_at timestamp with time zone, properties text, _file_name text, _file_line bigint,
    _dlt_load_id text not null, _dlt_id text not null
);
"""

REJECTED_DDL = """
create table raw_{system}.rejected_records (
    source_name text, resource_name text, location text, position bigint, raw_text text,
    reason text, rejected_at timestamp with time zone, _dlt_load_id text not null,
    _dlt_id text not null
);
"""

# The delete signals (docs/interfaces.md): no row is deleted in the fixture, but the columns
# and tables exist, as the loaders always create them.
DELETES_DDL = """
alter table raw_crm.customers add column deleted_at timestamp with time zone;
create table raw_crm.deleted_customers (
    id bigint, deleted_at timestamp with time zone, _dlt_load_id text not null,
    _dlt_id text not null
);
create table raw_shop.deleted_records (
    table_name text, record_key text, key_column text, is_deleted boolean,
    detected_at timestamp with time zone, _dlt_load_id text not null, _dlt_id text not null
);
"""

L = "'1700000000.1'"

ROWS = f"""
insert into raw_crm.customers values
 (1, '  Alice@Example.COM ', 'Alice', 'Ärger', '+1 555 0101', 'US', 'Boston', 'organic', true,
  '2026-10-01 08:00:00+00', '2026-10-20 09:00:00+00', '1 Main St', 'Boston', '02101', 'US',
  {L}, 'c1'),
 (2, 'bob@gmail.com', 'Bob', 'Brown', null, 'DE', 'Berlin', 'paid_search', false,
  '2026-10-02 08:00:00+00', '2026-10-02 08:00:00+00', null, null, null, null, {L}, 'c2'),
 (3, 'carol@corp.se', 'Carol', 'Carlsson', '+46 8 123', 'SE', 'Stockholm', 'referral', true,
  '2026-10-03 08:00:00+00', '2026-10-03 08:00:00+00', null, null, null, null, {L}, 'c3'),
 (4, null, 'Nobody', 'Noemail', null, 'GB', 'London', 'social', false,
  '2026-10-04 08:00:00+00', '2026-10-04 08:00:00+00', null, null, null, null, {L}, 'c4');
insert into raw_crm.customers__tags values
 ('vip', 'c1', 0, 'c1', 't1'), ('newsletter', 'c1', 1, 'c1', 't2'), ('b2b', 'c3', 0, 'c3', 't3');
insert into raw_crm.campaigns values
 (1, 'Autumn sale', 'paid_search', 5000.0, 'USD', '2026-10-01 00:00:00+00', null,
  '2026-10-01 00:00:00+00', {L}, 'k1');
insert into raw_fx.rates values
 ('2026-10-01', 'USD', 1.0, 'USD', {L}, 'f1'), ('2026-10-01', 'EUR', 0.9, 'USD', {L}, 'f2'),
 ('2026-10-01', 'SEK', 10.0, 'USD', {L}, 'f3'), ('2026-10-02', 'USD', 1.0, 'USD', {L}, 'f4'),
 ('2026-10-02', 'EUR', 0.8, 'USD', {L}, 'f5'), ('2026-10-02', 'SEK', 11.0, 'USD', {L}, 'f6'),
 ('2026-10-05', 'USD', 1.0, 'USD', {L}, 'f7'), ('2026-10-05', 'EUR', 0.75, 'USD', {L}, 'f8'),
 ('2026-10-05', 'SEK', 12.0, 'USD', {L}, 'f9');
insert into raw_shop.products values
 (10, 'SKU-10', 'Mug', 'kitchen', 12.50, 'USD', true, '2026-09-01 00:00:00',
  '2026-09-01 00:00:00', {L}, 'p1'),
 (11, 'SKU-11', 'Lamp', 'home', 40.00, 'USD', true, '2026-09-01 00:00:00',
  '2026-09-01 00:00:00', {L}, 'p2');
insert into raw_shop.orders values
 (100, 1, 'paid', 'USD', 25.00, 5.00, 4.00, 24.00, '2026-10-01 10:00:00',
  '2026-10-01 10:05:00', null, {L}, 'o1'),
 (101, 2, 'delivered', 'EUR', 40.00, 0.00, 5.00, 45.00, '2026-10-03 23:30:00',
  '2026-10-06 12:00:00', null, {L}, 'o2'),
 (102, 3, 'shipped', 'SEK', 100.00, 10.00, 0.00, 90.00, '2026-10-05 12:00:00',
  '2026-10-05 12:00:00', null, {L}, 'o3'),
 (103, 1, 'cancelled', 'USD', 12.50, 0.00, 0.00, 12.50, '2026-10-05 13:00:00',
  '2026-10-05 14:00:00', null, {L}, 'o4'),
 (104, 2, 'paid', 'EUR', 12.50, 0.00, 0.00, 12.50, '2026-10-05 15:00:00',
  '2026-10-06 15:00:00', '2026-10-06 15:00:00', {L}, 'o5'),
 (105, 3, 'paid', 'XXX', 10.00, 0.00, 0.00, 10.00, '2026-10-05 16:00:00',
  '2026-10-05 16:00:00', null, {L}, 'o6'),
 (106, 1, 'shipped', 'EUR', 25.00, 0.00, 0.00, 25.00, '2026-10-05 17:00:00',
  '2026-10-05 17:00:00', null, {L}, 'o7');
insert into raw_shop.order_items values
 (1000, 100, 10, 2, 12.50, '2026-10-01 10:00:00', '2026-10-01 10:00:00', {L}, 'i1'),
 (1001, 101, 11, 1, 40.00, '2026-10-03 23:30:00', '2026-10-03 23:30:00', {L}, 'i2'),
 (1002, 102, 10, 8, 12.50, '2026-10-05 12:00:00', '2026-10-05 12:00:00', {L}, 'i3'),
 (1003, 103, 10, 1, 12.50, '2026-10-05 13:00:00', '2026-10-05 13:00:00', {L}, 'i4'),
 (1004, 104, 10, 1, 12.50, '2026-10-05 15:00:00', '2026-10-05 15:00:00', {L}, 'i5'),
 (1005, 105, 10, 1, 10.00, '2026-10-05 16:00:00', '2026-10-05 16:00:00', {L}, 'i6'),
 (1006, 106, 10, 2, 12.50, '2026-10-05 17:00:00', '2026-10-05 17:00:00', {L}, 'i7'),
 (1007, 106, 11, -1, 40.00, '2026-10-05 17:00:00', '2026-10-05 17:00:00', {L}, 'i8');
insert into raw_events.events values
 ('e1', 'a1', null, 'page_view', 'https://shop.example/?utm_source=google', null, 'google',
  'cpc', 'autumn', 'desktop', '2026-10-01 09:50:00+00', '{{}}', 'f.parquet', 1, {L}, 'ev1'),
 ('e2', 'a1', 1, 'product_view', 'https://shop.example/p/10', 'https://shop.example/', null,
  null, null, 'desktop', '2026-10-01 09:55:00+00', '{{"product_id": 10, "price": 12.5}}',
  'f.parquet', 2, {L}, 'ev2'),
 ('e3', 'a1', 1, 'add_to_cart', 'https://shop.example/cart', null, null, null, null,
  'desktop', '2026-10-01 09:57:00+00', '{{"product_id": 10}}', 'f.parquet', 3, {L}, 'ev3'),
 ('e4', 'a1', 1, 'checkout_started', 'https://shop.example/checkout', null, null, null, null,
  'desktop', '2026-10-01 09:58:00+00', '{{}}', 'f.parquet', 4, {L}, 'ev4'),
 ('e5', 'a1', 1, 'purchase', 'https://shop.example/thanks', null, null, null, null,
  'desktop', '2026-10-01 10:00:00+00', '{{"order_id": 100, "price": 25.0}}', 'f.parquet', 5,
  {L}, 'ev5'),
 ('e6', 'a1', 1, 'page_view', 'https://shop.example/', 'https://news.example/', null, null,
  null, 'mobile', '2026-10-01 10:45:00+00', '{{}}', 'g.jsonl.gz', 1, {L}, 'ev6'),
 ('e7', 'a2', null, 'page_view', 'https://shop.example/p/11', null, null, null, null,
  'tablet', '2026-10-02 08:00:00+00', '{{"product_id": 11}}', 'h.csv', 1, {L}, 'ev7');
insert into raw_events.rejected_records values
 ('events', 'events', 'landing/events/date=2026-10-01/g.jsonl.gz', 7, '{{"event_id": ',
  'malformed JSON', '2026-10-02 00:00:00+00', {L}, 'r1');
"""


def build(conn: Any) -> None:
    """Create the raw schemas and tables and fill them with the fixture rows.

    Args:
        conn: an open DB-API connection to an empty DuckDB or PostgreSQL warehouse.
    """
    rejected = "".join(REJECTED_DDL.format(system=s) for s in SYSTEMS)
    statements = DDL + rejected + ROWS + DELETES_DDL
    cur = conn.cursor()
    for statement in statements.split(";"):
        if statement.strip():
            cur.execute(statement)
    conn.commit()


SYSTEMS = ("crm", "fx", "shop", "events")


if __name__ == "__main__":
    from ingestion import warehouse

    connection = warehouse.connect()
    build(connection)
    connection.close()
