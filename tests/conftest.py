"""Fixtures: a migrated template database, a fresh database per test, real workers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.pgbouncer import PGBOUNCER, PgBouncer

ADMIN_DSN = os.environ.get("HATCHNB_TEST_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
FAST_SETTINGS = {
    "HATCHNB_HEARTBEAT_INTERVAL": "0.3",
    "HATCHNB_WORKER_TIMEOUT": "2",
    "HATCHNB_POLL_INTERVAL": "0.2",
    "HATCHNB_ENGINE_INTERVAL": "0.2",
    "HATCHNB_SHUTDOWN_GRACE": "3",
}

#: Debian's Chromium and the flags the browser tests launch it with (headless, in a container)
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]


def _dsn_for(database: str) -> str:
    base, _, _ = ADMIN_DSN.rpartition("/")
    return f"{base}/{database}"


def _admin(sql: str) -> None:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(sql)


@pytest.fixture(scope="session")
def template_db() -> Iterator[str]:
    from hatchnb.store import migrate

    name = f"hatchnb_template_{os.getpid()}"
    _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    _admin(f"CREATE DATABASE {name}")
    migrate(_dsn_for(name))
    yield name
    _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def pgbouncer() -> Iterator[PgBouncer]:
    """A real PgBouncer in transaction mode in front of the test PostgreSQL."""
    if not Path(PGBOUNCER).exists() and os.environ.get("HATCHNB_TEST_PGBOUNCER") != "1":
        pytest.skip(f"no {PGBOUNCER} (apt-get install pgbouncer)")
    bouncer = PgBouncer(ADMIN_DSN)
    yield bouncer
    bouncer.stop()


@pytest.fixture
def dsn(
    template_db: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[str]:
    """A fresh database's URL. With HATCHNB_TEST_PGBOUNCER=1 the URL goes through PgBouncer
    (transaction mode) and HATCHNB_DATABASE_DIRECT_URL is the database's direct URL."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    _admin(f"CREATE DATABASE {name} TEMPLATE {template_db}")
    url = _dsn_for(name)
    if os.environ.get("HATCHNB_TEST_PGBOUNCER") == "1":
        monkeypatch.setenv("HATCHNB_DATABASE_DIRECT_URL", url)
        url = request.getfixturevalue("pgbouncer").url(name)
    monkeypatch.setenv("HATCHNB_DATABASE_URL", url)
    for key, value in FAST_SETTINGS.items():
        monkeypatch.setenv(key, value)
    yield url
    _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def db(dsn: str) -> Iterator[psycopg.Connection[Any]]:
    """The test's own connection for checks, straight to the server."""
    from psycopg.rows import dict_row

    direct = os.environ.get("HATCHNB_DATABASE_DIRECT_URL") or dsn  # not through PgBouncer
    with psycopg.connect(direct, autocommit=True, row_factory=dict_row) as conn:
        yield conn


@pytest.fixture
def hatchet(dsn: str) -> Iterator[Any]:
    from hatchnb import Hatchet

    client = Hatchet(dsn=dsn)
    yield client
    client.close()


@pytest.fixture
def start_worker(hatchet: Any) -> Iterator[Callable[..., Any]]:
    """Start in-process background workers; all are stopped at teardown."""
    started: list[Any] = []

    def start(*workflows: Any, slots: int = 10, name: str = "test-worker", **options: Any) -> Any:
        worker = hatchet.worker(name, slots=slots, workflows=list(workflows), **options)
        worker.start_background()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop(timeout=10)


class Process:
    """A real ``python -m hatchnb <args>`` (a worker or the engine), optionally inside a
    network namespace, run from an empty directory so it has none of the test code on its
    path."""

    def __init__(
        self, dsn: str, workdir: Path, args: list[str], env: dict[str, str], netns: str = ""
    ) -> None:
        self.log_path = workdir / f"{args[0]}-{uuid.uuid4().hex[:6]}.log"
        self._log = self.log_path.open("w")
        prefix = ["ip", "netns", "exec", netns] if netns else []
        self.proc = subprocess.Popen(
            [*prefix, sys.executable, "-m", "hatchnb", *args],
            cwd=workdir,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **FAST_SETTINGS, **env, "HATCHNB_DATABASE_URL": dsn},
        )

    @property
    def pid(self) -> int:
        """``ip netns exec`` execs the command, so this is the Python process's pid."""
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._log.close()


@pytest.fixture
def worker_process(dsn: str, tmp_path: Path) -> Iterator[Callable[..., Process]]:
    workdir = tmp_path / "worker-cwd"
    workdir.mkdir()
    procs: list[Process] = []

    def start(*args: str, **env: str) -> Process:
        proc = Process(dsn, workdir, ["worker", *args], env)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.stop()


def wait_until(
    predicate: Callable[[], Any], timeout: float = 15.0, message: str = "condition"
) -> Any:
    """Poll with a deadline instead of sleeping."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


def direct_url_env() -> dict[str, str]:
    """HATCHNB_DATABASE_DIRECT_URL for a subprocess given a clean environment (set when the
    suite runs through PgBouncer)."""
    direct = os.environ.get("HATCHNB_DATABASE_DIRECT_URL")
    return {"HATCHNB_DATABASE_DIRECT_URL": direct} if direct else {}
