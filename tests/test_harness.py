"""The test harness itself: the PostgreSQL server it starts is real and reachable."""

import psycopg2


def test_postgres_server_accepts_queries_on_loopback(pg_database):
    conn = psycopg2.connect(
        host=pg_database["PGHOST"],
        port=pg_database["PGPORT"],
        user=pg_database["PGUSER"],
        dbname=pg_database["PGDATABASE"],
    )
    with conn.cursor() as cur:
        cur.execute("select inet_server_addr()::text, current_setting('server_version_num')::int")
        addr, version = cur.fetchone()
    conn.close()
    assert addr.startswith("127.0.0.1")
    assert version >= 150000
