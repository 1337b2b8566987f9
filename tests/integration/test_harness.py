"""The test harness itself: the PostgreSQL server it starts is real and reachable."""

from tests.support.warehouse import connect


def test_postgres_server_accepts_queries_on_loopback(pg_database):
    conn = connect(pg_database)
    with conn.cursor() as cur:
        cur.execute("select inet_server_addr()::text, current_setting('server_version_num')::int")
        addr, version = cur.fetchone()
    conn.close()
    assert addr.startswith("127.0.0.1")
    assert version >= 150000


def test_xdist_groups_keep_a_group_on_one_worker(tmp_path):
    """`make test` relies on `--dist loadgroup`; pytest 9.2 silently broke it (see pyproject)."""
    import subprocess
    import sys

    (tmp_path / "test_grouped.py").write_text(
        "import os, pathlib, pytest\n"
        "@pytest.mark.xdist_group('lab')\n"
        "@pytest.mark.parametrize('i', range(6))\n"
        "def test_x(i):\n"
        "    pathlib.Path(f'worker_{i}').write_text(os.environ['PYTEST_XDIST_WORKER'])\n"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-n",
            "2",
            "--dist",
            "loadgroup",
            "-p",
            "no:cacheprovider",
            "test_grouped.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    workers = {p.read_text() for p in tmp_path.glob("worker_*")}
    assert len(list(tmp_path.glob("worker_*"))) == 6
    assert len(workers) == 1, f"one xdist group ran on several workers: {sorted(workers)}"
