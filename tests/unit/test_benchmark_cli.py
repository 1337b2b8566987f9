"""``python -m benchmarks --quick``: the after-a-change preset, and explicit flags over it."""

from __future__ import annotations

from benchmarks.cli import parse_args


def test_quick_runs_scale_100_on_both_warehouses_without_the_2x_step() -> None:
    s = parse_args(["--quick"])
    assert (s.scale, s.warehouses, s.skip_2x, s.skip_naive) == (
        100.0,
        ["duckdb", "postgres"],
        True,
        False,
    )
    assert (s.naive_rows, s.name) == (100_000, "quick")
    assert not (s.skip_dbt or s.skip_next_day)


def test_explicit_flags_override_the_quick_preset() -> None:
    s = parse_args(["--quick", "--scale", "10", "--naive-rows", "5000", "--name", "mine"])
    assert (s.scale, s.naive_rows, s.name) == (10.0, 5000, "mine")


def test_without_quick_the_default_is_the_10m_event_day_with_every_step() -> None:
    s = parse_args([])
    assert (s.scale, s.skip_2x, s.naive_rows, s.name) == (1000.0, False, 1_000_000, "latest")
