"""The semantic layer (dbt semantic models, metrics, saved queries) answered by MetricFlow's
``mf query`` on a real demo load, on DuckDB and on PostgreSQL, equal to the marts.

One scenario per warehouse (module-scoped): a 45-day demo (two cohort months) loaded by the real
loaders, ``dbt build``, then each saved query through ``mf query --saved-query``; the tests
compare the answers with the marts the same build wrote.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support.dbt import ingest
from tests.support.env import environment
from tests.support.metricflow import MetricFlow, project_root
from tests.support.warehouse import dict_rows, fresh_env

pytestmark = pytest.mark.slow

END_DATE = date(2026, 10, 20)
SAVED_QUERIES = (
    "daily_revenue_by_country",
    "customers_new_vs_returning",
    "daily_funnel",
    "retention_by_cohort",
)
WAREHOUSES = [
    pytest.param("duckdb", marks=pytest.mark.xdist_group("semantic_duckdb")),
    pytest.param(
        "postgres", marks=[pytest.mark.postgres, pytest.mark.xdist_group("semantic_postgres")]
    ),
]


@dataclass
class Answers:
    """What one warehouse's build and ``mf`` queries produced."""

    env: dict[str, str]
    validation: str
    metrics: str
    saved: dict[str, list[dict[str, str]]]

    def marts(self, sql: str) -> list[dict[str, Any]]:
        """Rows of a query on the marts."""
        return dict_rows(self.env, sql)


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 45-day demo ending in October: customers of September come back in October."""
    from demo import generator

    folder = tmp_path_factory.mktemp("semantic_demo") / "demo"
    generator.generate(folder, days=45, scale=0.02, end_date=END_DATE)
    return folder


@pytest.fixture(scope="module", params=WAREHOUSES)
def answers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, demo_dir: Path
) -> Answers:
    kind = request.param
    tmp = tmp_path_factory.mktemp(f"semantic_{kind}")
    server = request.getfixturevalue("postgres") if kind == "postgres" else None
    env = {
        "DLT_DATA_DIR": str(tmp / "dlt"),
        "RUNTIME__LOG_LEVEL": "WARNING",
        "DEMO_DIR": str(demo_dir),
        **fresh_env(kind, tmp, server),
    }
    dbt = project_root(tmp / "project")
    mf = MetricFlow(dbt.work_dir, env)
    with environment(env):
        ingest(demo_dir)
        build = dbt.invoke("build")
    assert build.success, build.failures()
    return Answers(
        env=env,
        validation=mf.run("validate-configs", "--skip-dw").stdout,
        metrics=mf.run("list", "metrics").stdout,
        saved={name: mf.query("--saved-query", name) for name in SAVED_QUERIES},
    )


def _day(text: str) -> str:
    return text[:10]


def _count(text: str | None) -> int:
    """A count as mf prints it (PostgreSQL sums bigints as numeric: ``49.0``)."""
    value = Decimal(text or "0")
    assert value == value.to_integral_value(), text
    return int(value)


def _cents(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _rate(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def test_semantic_manifest_validates_and_lists_every_metric(answers: Answers) -> None:
    assert "ERRORS: 0" in answers.validation, answers.validation[-2000:]
    for metric in (
        "revenue",
        "orders",
        "average_order_value",
        "new_customers",
        "returning_customers",
        "session_conversion_rate",
        "cohort_retention_rate",
    ):
        assert f"• {metric}" in answers.metrics, metric


def test_revenue_orders_and_average_order_value_equal_daily_revenue(answers: Answers) -> None:
    mart = {
        (str(r["order_date"]), r["country_code"]): (
            int(r["orders"]),
            _cents(r["revenue"]),
            _cents(r["average_order_value"]),
        )
        for r in answers.marts(
            "select order_date, country_code, orders, revenue, average_order_value "
            "from marts.fct_daily_revenue"
        )
    }
    metrics = {
        (_day(r["metric_time__day"]), r["customer__country_code"]): (
            _count(r["orders"]),
            _cents(r["revenue"]),
            _cents(r["average_order_value"]),
        )
        for r in answers.saved["daily_revenue_by_country"]
    }
    assert len(mart) > 40
    assert metrics == mart


def test_new_and_returning_customers_per_month_equal_the_cohort_mart(answers: Answers) -> None:
    cohorts = answers.marts(
        "select cohort_month, months_since_first_order, cohort_size, active_customers "
        "from marts.fct_cohort_retention"
    )
    new: dict[str, int] = defaultdict(int)
    buying: dict[str, int] = defaultdict(int)
    for row in cohorts:
        month = row["cohort_month"]
        offset = row["months_since_first_order"]
        active_month = date(
            month.year + (month.month - 1 + offset) // 12, (month.month - 1 + offset) % 12 + 1, 1
        )
        buying[str(active_month)] += int(row["active_customers"])
        if offset == 0:
            new[str(month)] = int(row["cohort_size"])
    expected = {m: (buying[m], new.get(m, 0), buying[m] - new.get(m, 0)) for m in buying}
    metrics = {
        _day(r["metric_time__month"]): (
            _count(r["buying_customers"]),
            _count(r["new_customers"]),
            _count(r["returning_customers"]),
        )
        for r in answers.saved["customers_new_vs_returning"]
    }
    assert len(expected) == 2 and any(v[2] > 0 for v in expected.values()), expected
    assert metrics == expected
    (daily_new,) = answers.marts("select sum(new_customers) as n from marts.fct_daily_revenue")
    assert sum(v[1] for v in metrics.values()) == daily_new["n"]


def test_funnel_steps_and_conversion_rate_equal_the_daily_funnel(answers: Answers) -> None:
    steps = [
        "sessions",
        "product_view_sessions",
        "add_to_cart_sessions",
        "checkout_sessions",
        "purchase_sessions",
    ]
    mart: dict[str, list[Any]] = defaultdict(lambda: [0] * 6)
    for r in answers.marts(
        "select session_date, step_number, sessions, share_of_sessions from marts.fct_daily_funnel"
    ):
        mart[str(r["session_date"])][r["step_number"] - 1] = int(r["sessions"])
        if r["step_number"] == 5:
            mart[str(r["session_date"])][5] = _rate(r["share_of_sessions"])
    metrics = {
        _day(r["metric_time__day"]): [_count(r[s]) for s in steps]
        + [_rate(r["session_conversion_rate"])]
        for r in answers.saved["daily_funnel"]
    }
    assert len(mart) >= 45
    assert metrics == dict(mart)


def test_cohort_retention_rate_equals_the_cohort_mart(answers: Answers) -> None:
    mart = {
        (str(r["cohort_month"]), int(r["months_since_first_order"])): (
            int(r["cohort_size"]),
            int(r["active_customers"]),
            _rate(r["retention_rate"]),
        )
        for r in answers.marts(
            "select cohort_month, months_since_first_order, cohort_size, active_customers, "
            "retention_rate from marts.fct_cohort_retention"
        )
    }
    metrics = {
        (_day(r["metric_time__month"]), _count(r["cohort__months_since_first_order"])): (
            _count(r["cohort_size_total"]),
            _count(r["retained_customers"]),
            _rate(r["cohort_retention_rate"]),
        )
        for r in answers.saved["retention_by_cohort"]
    }
    assert (f"{END_DATE:%Y}-09-01", 1) in mart  # September's customers came back
    assert metrics == mart
