"""The demo CRM + FX API over real HTTP: auth, pagination, filters, rate limits and faults."""

from __future__ import annotations

import json
import sqlite3
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from demo.faults import ApiFaults
from demo.server import running_server


def get(url: str, token: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """GET a URL; returns status, headers and the raw body (errors included)."""
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def token_of(demo_dir: Path) -> str:
    return (demo_dir / "api_token").read_text().strip()


def crawl(base: str, token: str, resource: str, **params: Any) -> tuple[list[dict], int]:
    """Follow next_cursor through every page; returns the records and the number of pages."""
    query = "&".join(f"{k}={v}" for k, v in params.items())
    url = f"{base}/crm/v1/{resource}?{query}"
    records, pages = [], 0
    while url:
        status, headers, body = get(url, token)
        assert status == 200, body
        page = json.loads(body)
        records += page["data"]
        pages += 1
        url = None
        if page["next_cursor"]:
            link = headers["Link"]
            assert link.endswith('>; rel="next"') and page["next_cursor"] in link
            url = link[1 : link.index(">")]
    return records, pages


@pytest.fixture(scope="module")
def api(demo_template: Path):
    with running_server(demo_template) as base:
        yield base, token_of(demo_template)


def test_customers_need_the_bearer_token(api):
    base, token = api
    assert get(f"{base}/crm/v1/customers")[0] == 401
    assert get(f"{base}/crm/v1/customers", "wrong-token")[0] == 401
    assert get(f"{base}/crm/v1/customers", token)[0] == 200


def test_fx_rates_are_public_and_skip_weekends(api, demo_template):
    base, _ = api
    status, _, body = get(f"{base}/fx/v1/rates?start_date=2026-11-13&end_date=2026-11-20")
    assert status == 200
    page = json.loads(body)
    days = sorted({r["date"] for r in page["data"]})
    assert days == ["2026-11-13", "2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19",
                    "2026-11-20"]  # fmt: skip
    assert {r["currency"] for r in page["data"]} == {
        "USD", "EUR", "GBP", "JPY", "CAD", "AUD", "SEK",
    }  # fmt: skip
    assert all(r["rate"] == 1 for r in page["data"] if r["currency"] == "USD")
    assert page["base"] == "USD"


def test_pagination_returns_every_customer_exactly_once(api, demo_template):
    base, token = api
    records, pages = crawl(base, token, "customers", limit=37)
    ids = [r["id"] for r in records]
    conn = sqlite3.connect(demo_template / "api.sqlite")
    expected = [r[0] for r in conn.execute("select id from customers order by updated_at, id")]
    assert pages > 3
    assert ids == expected


def test_customers_carry_a_nested_address_and_a_tag_list(api):
    base, token = api
    records, _ = crawl(base, token, "customers", limit=1000)
    assert all(isinstance(r["tags"], list) for r in records)
    with_address = [r for r in records if r["address"] is not None]
    assert with_address and len(with_address) < len(records)
    assert set(with_address[0]["address"]) == {"line1", "city", "postal_code", "country_code"}
    assert all(r["updated_at"].endswith("Z") for r in records)


def test_updated_since_returns_only_rows_updated_at_or_after_it(api, demo_template):
    base, token = api
    conn = sqlite3.connect(demo_template / "api.sqlite")
    stamps = [r[0] for r in conn.execute("select updated_at from customers order by updated_at")]
    since = stamps[len(stamps) // 2]
    records, _ = crawl(base, token, "customers", limit=50, updated_since=since)
    assert records and min(r["updated_at"] for r in records) == since
    assert len(records) == sum(s >= since for s in stamps)
    offset_form = since.replace("Z", "+00:00").replace("+", "%2B")
    same, _ = crawl(base, token, "customers", limit=50, updated_since=offset_form)
    assert [r["id"] for r in same] == [r["id"] for r in records]


def test_campaigns_paginate_too(api, demo_template):
    base, token = api
    records, _ = crawl(base, token, "campaigns", limit=5)
    conn = sqlite3.connect(demo_template / "api.sqlite")
    assert len(records) == conn.execute("select count(*) from campaigns").fetchone()[0]
    assert {"id", "name", "channel", "budget", "currency", "started_at", "ended_at"} <= set(
        records[0]
    )


def test_bad_parameters_get_a_400_naming_them(api):
    base, token = api
    status, _, body = get(f"{base}/crm/v1/customers?limit=5000", token)
    assert status == 400 and b"limit" in body
    status, _, body = get(f"{base}/crm/v1/customers?updated_since=yesterday", token)
    assert status == 400 and b"updated_since" in body


def test_exceeding_the_rate_limit_answers_429_with_retry_after(demo_template):
    token = token_of(demo_template)
    with running_server(demo_template, rate_limit=2, rate_window=30) as base:
        statuses = [get(f"{base}/crm/v1/customers", token) for _ in range(3)]
    assert [s[0] for s in statuses] == [200, 200, 429]
    assert 1 <= int(statuses[2][1]["Retry-After"]) <= 30


def _statuses(demo_dir: Path, faults: ApiFaults, requests: int) -> list[int]:
    token = token_of(demo_dir)
    with running_server(demo_dir, faults=faults, rate_limit=10_000) as base:
        return [get(f"{base}/crm/v1/customers?limit=5", token)[0] for _ in range(requests)]


def test_error_faults_answer_5xx_at_about_the_given_rate(demo_template):
    statuses = _statuses(demo_template, ApiFaults(error_rate=0.3, seed=1), 200)
    errors = [s for s in statuses if s >= 500]
    assert set(errors) <= {500, 502, 503}
    assert 35 <= len(errors) <= 85  # binomial(200, 0.3): mean 60, sd 6.5
    assert set(statuses) - set(errors) == {200}


def test_faults_are_reproducible_with_the_same_seed(demo_template):
    faults = ApiFaults(error_rate=0.5, seed=3)
    assert _statuses(demo_template, faults, 30) == _statuses(demo_template, faults, 30)


def test_throttle_faults_answer_429_with_retry_after(demo_template):
    token = token_of(demo_template)
    with running_server(demo_template, faults=ApiFaults(throttle_rate=1.0, retry_after=2)) as base:
        status, headers, _ = get(f"{base}/crm/v1/customers", token)
    assert (status, headers["Retry-After"]) == (429, "2")


def test_truncate_faults_answer_200_with_invalid_json(demo_template):
    token = token_of(demo_template)
    with running_server(demo_template, faults=ApiFaults(truncate_rate=1.0)) as base:
        status, _, body = get(f"{base}/crm/v1/customers?limit=20", token)
    assert status == 200 and body.startswith(b'{"data"')
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)


def test_slow_faults_delay_the_answer(demo_template):
    token = token_of(demo_template)
    with running_server(demo_template, faults=ApiFaults(slow_rate=1.0, slow_seconds=0.4)) as base:
        started = time.perf_counter()
        status = get(f"{base}/crm/v1/customers?limit=1", token)[0]
    assert status == 200 and time.perf_counter() - started >= 0.4


def test_duplicate_faults_repeat_records_across_pages_but_lose_none(demo_template):
    token = token_of(demo_template)
    conn = sqlite3.connect(demo_template / "api.sqlite")
    expected = {r[0] for r in conn.execute("select id from customers")}
    with running_server(demo_template, faults=ApiFaults(duplicate_rate=1.0)) as base:
        records, pages = crawl(base, token, "customers", limit=25)
    ids = [r["id"] for r in records]
    assert set(ids) == expected
    assert len(ids) - len(set(ids)) >= pages - 1 > 0  # every later page repeats some records


def test_empty_last_page_ends_every_walk_with_an_empty_page_without_cursor(demo_template):
    token = token_of(demo_template)
    expected = (
        sqlite3.connect(demo_template / "api.sqlite")
        .execute("select count(*) from customers")
        .fetchone()[0]
    )
    with running_server(demo_template, faults=ApiFaults(empty_last_page=True)) as base:
        records, pages = crawl(base, token, "customers", limit=expected)  # all in one page
        status, _, body = get(f"{base}/fx/v1/rates?start_date=2099-01-01")
        fx_status, _, fx_first = get(f"{base}/fx/v1/rates")
        fx_cursor = json.loads(fx_first)["next_cursor"]
        _, _, fx_last = get(f"{base}/fx/v1/rates?cursor={fx_cursor}")
        report = json.loads(get(f"{base}/faults")[2])
    assert (len(records), pages) == (expected, 2)
    assert (status, json.loads(body)["data"], json.loads(body)["next_cursor"]) == (200, [], None)
    assert fx_status == 200 and fx_cursor
    assert json.loads(fx_last)["data"] == [] and json.loads(fx_last)["next_cursor"] is None
    assert report["injected"]["empty_last_page"] == 2


def test_unauthorized_after_rejects_the_right_token_once_the_budget_is_spent(demo_template):
    token = token_of(demo_template)
    with running_server(demo_template, faults=ApiFaults(unauthorized_after=2)) as base:
        statuses = [get(f"{base}/crm/v1/customers?limit=1", token)[0] for _ in range(4)]
        fx_status = get(f"{base}/fx/v1/rates")[0]  # public: not affected
        headers, body = get(f"{base}/crm/v1/campaigns", token)[1:]
        report = json.loads(get(f"{base}/faults")[2])
    assert statuses == [200, 200, 401, 401] and fx_status == 200
    assert headers["WWW-Authenticate"] == "Bearer" and b"revoked" in body
    assert report["injected"] == {"unauthorized": 3}
    assert report["answered"] == {"200": 3, "401": 3}
