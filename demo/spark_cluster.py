"""Start a throwaway Spark standalone cluster on 127.0.0.1: one master and N workers.

Each daemon is its own process (and process group), started from ``bin/spark-class`` inside the
installed ``pyspark`` package (``SPARK_HOME`` = that folder) on this machine's Java. Everything
binds to loopback (``SPARK_LOCAL_IP``, ``--host``); each worker has its own work dir, where the
executors it launched keep their folders. ``env()`` points dbt (``SPARK_MASTER``) and the driver
at the cluster and turns on Spark's event log, from which :meth:`tasks_per_worker` counts the
tasks each worker ran. Used by the tests, ``make test-spark`` and the benchmark.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
START_TIMEOUT_S = 90.0
WORKER_TIMEOUT_S = 30  # the master gives up on a silent worker after this (Spark's default: 60)


class SparkUnavailable(RuntimeError):
    """pyspark or Java is missing, or the cluster did not come up."""


def spark_home() -> Path:
    """The installed pyspark package: it carries ``bin/spark-class`` and Spark's jars."""
    try:
        import pyspark
    except ImportError as exc:
        raise SparkUnavailable(
            "pyspark is not installed: pip install -e '.[spark]' (make install does)"
        ) from exc
    return Path(pyspark.__file__).parent


@dataclass
class Daemon:
    """One Spark daemon process."""

    name: str
    process: subprocess.Popen[bytes]
    ui_port: int
    work_dir: Path

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the daemon and everything it started (a worker's executors): a lost machine."""
        if self.alive:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


@dataclass
class SparkCluster:
    """A running standalone cluster."""

    root: Path
    master: Daemon
    master_url: str
    workers: list[Daemon] = field(default_factory=list)
    started_in_s: float = 0.0

    @property
    def event_log_dir(self) -> Path:
        return self.root / "events"

    @property
    def conf_dir(self) -> Path:
        return self.root / "conf"

    def env(self) -> dict[str, str]:
        """Variables for a driver (dbt, ``python -m orchestration``) on this cluster."""
        return {
            "SPARK_MASTER": self.master_url,
            "SPARK_LOCAL_IP": HOST,
            "SPARK_CONF_DIR": str(self.conf_dir),
        }

    def status(self) -> dict[str, object]:
        """The master's view (its JSON page): workers, their state, applications."""
        url = f"http://{HOST}:{self.master.ui_port}/json/"
        with urllib.request.urlopen(url, timeout=5) as response:
            data: dict[str, object] = json.load(response)
        return data

    def alive_workers(self) -> int:
        workers = self.status().get("workers", [])
        assert isinstance(workers, list)
        return sum(1 for w in workers if w.get("state") == "ALIVE")

    def tasks_per_worker(self) -> dict[str, int]:
        """Tasks finished per worker (by name) over every application's event log."""
        executor_worker = {
            (app.name, executor.name): worker.name
            for worker in self.workers
            for app in worker.work_dir.glob("app-*")
            for executor in app.iterdir()
            if executor.is_dir()
        }
        counts: Counter[str] = Counter()
        for log in self.event_log_dir.glob("app-*"):
            app_id = log.name.split(".")[0]
            for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
                if '"Event":"SparkListenerTaskEnd"' not in line:
                    continue
                executor = json.loads(line)["Task Info"]["Executor ID"]
                counts[executor_worker.get((app_id, executor), f"driver:{executor}")] += 1
        return dict(counts)

    def tasks_logged(self, worker: Daemon) -> int:
        """Tasks the worker's executors report finished in their logs so far (live, unbuffered)."""
        return sum(
            log.read_text(encoding="utf-8", errors="replace").count("Finished task")
            for log in worker.work_dir.glob("app-*/*/stderr")
        )

    def stop(self) -> None:
        """Stop every daemon (workers first)."""
        for daemon in [*self.workers, self.master]:
            with suppress(ProcessLookupError, subprocess.TimeoutExpired):
                daemon.kill()


def _daemon_env(root: Path, work_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        SPARK_HOME=str(spark_home()),
        SPARK_LOCAL_IP=HOST,
        SPARK_WORKER_DIR=str(work_dir),
        SPARK_LOG_DIR=str(root / "logs"),
        SPARK_CONF_DIR=str(root / "conf"),
        SPARK_MASTER_OPTS=f"-Dspark.worker.timeout={WORKER_TIMEOUT_S}",
    )
    return env


def _spawn(root: Path, name: str, args: list[str], ui_port: int) -> Daemon:
    work_dir = root / name
    work_dir.mkdir(parents=True, exist_ok=True)
    out = (root / "logs" / f"{name}.out").open("wb")
    process = subprocess.Popen(
        [str(spark_home() / "bin" / "spark-class"), *args],
        env=_daemon_env(root, work_dir),
        cwd=work_dir,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: a kill takes its executors too
    )
    return Daemon(name, process, ui_port, work_dir)


def distinct_free_ports(count: int) -> list[int]:
    """``count`` free loopback ports, all different (each held open until all are chosen)."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind((HOST, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


def _write_conf(root: Path) -> None:
    """spark-defaults.conf for drivers started with ``env()``: the event log, loopback."""
    (root / "events").mkdir(parents=True, exist_ok=True)
    (root / "conf").mkdir(parents=True, exist_ok=True)
    (root / "logs").mkdir(parents=True, exist_ok=True)
    (root / "conf" / "spark-defaults.conf").write_text(
        "spark.eventLog.enabled true\n"
        "spark.eventLog.rolling.enabled false\n"
        "spark.eventLog.compress false\n"
        f"spark.eventLog.dir file://{(root / 'events').resolve()}\n"
        f"spark.driver.host {HOST}\n"
        f"spark.driver.bindAddress {HOST}\n",
        encoding="utf-8",
    )


def start(root: Path, workers: int = 2, cores: int = 1, memory: str = "1g") -> SparkCluster:
    """Start a master and ``workers`` workers under ``root``; returns once all are registered.

    Raises:
        SparkUnavailable: pyspark or Java is missing, or the cluster did not come up in time.
    """
    t0 = time.monotonic()
    root = root.resolve()
    _write_conf(root)
    port, ui_port, *worker_uis = distinct_free_ports(2 + workers)
    master_args = ["org.apache.spark.deploy.master.Master", "--host", HOST, "--port", str(port)]
    master = _spawn(root, "master", [*master_args, "--webui-port", str(ui_port)], ui_port)
    cluster = SparkCluster(root, master, f"spark://{HOST}:{port}")
    try:
        for i in range(workers):
            worker_ui = worker_uis[i]
            worker_args = ["org.apache.spark.deploy.worker.Worker", "--host", HOST]
            worker_args += ["--cores", str(cores), "--memory", memory]
            worker_args += ["--webui-port", str(worker_ui), cluster.master_url]
            cluster.workers.append(_spawn(root, f"worker-{i + 1}", worker_args, worker_ui))
        _wait_for_workers(cluster, workers)
    except BaseException:
        cluster.stop()
        raise
    cluster.started_in_s = time.monotonic() - t0
    return cluster


def _wait_for_workers(cluster: SparkCluster, expected: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        for daemon in [cluster.master, *cluster.workers]:
            if not daemon.alive:
                log = cluster.root / "logs" / f"{daemon.name}.out"
                raise SparkUnavailable(f"spark {daemon.name} exited: {log.read_text()[-2000:]}")
        try:
            if cluster.alive_workers() == expected:
                return
        except (OSError, ValueError):
            pass  # the master's web UI is not up yet (or answers before its JSON page is)
        time.sleep(0.5)
    raise SparkUnavailable(f"{expected} workers did not register within {START_TIMEOUT_S:.0f} s")


@contextmanager
def running_cluster(root: Path, workers: int = 2, cores: int = 1) -> Iterator[SparkCluster]:
    """A cluster for the duration of the block."""
    cluster = start(root, workers, cores)
    try:
        yield cluster
    finally:
        cluster.stop()
