"""Losing the database: real worker processes against a throwaway PostgreSQL that is killed
(``pg_ctl stop -m immediate``) mid-run and started again, or is down when they start."""

from __future__ import annotations

import asyncio
import collections
import re
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest

from hatchnb import Context, EmptyModel, Hatchet
from tests.conftest import FAST_SETTINGS, wait_until
from tests.distributed.cluster import Cluster, Process, started

pytestmark = [pytest.mark.integration, pytest.mark.workers]

PASSWORD = "s3cret-pw"
TASKS = 300


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with started(Cluster()) as server:
        yield server


@pytest.fixture
def database(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh database on the throwaway server; the URL carries a password (trust auth
    ignores it) so that the tests can check it never reaches a log."""
    if not cluster.running():
        cluster.start()
    name = f"loss_{uuid.uuid4().hex[:10]}"
    cluster.create_database(name)
    for key, value in FAST_SETTINGS.items():
        monkeypatch.setenv(key, value)
    return cluster.dsn(name, PASSWORD)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for proc in started:
        proc.stop()


def _declare(hatchet: Hatchet) -> Any:
    @hatchet.task(name="blip", execution_timeout="120s")
    def blip(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        import os
        import time

        extra = input.model_extra or {}
        time.sleep(0.05)
        with open(extra["marks"], "a") as marks:
            marks.write(f"{extra['n']} {os.getpid()}\n")
        return {"n": extra["n"]}

    return blip


def _statuses(dsn: str) -> dict[str, int]:
    """Run statuses, or {} while the server is down."""
    try:
        with psycopg.connect(dsn, connect_timeout=2) as conn:
            rows = conn.execute(
                "SELECT status, count(*) FROM hatchnb.workflow_runs GROUP BY status"
            ).fetchall()
    except psycopg.OperationalError:
        return {}
    return {status: count for status, count in rows}


def test_workers_ride_out_a_database_restart_mid_run(
    cluster: Cluster, database: str, processes: list[Process], tmp_path: Path
) -> None:
    hatchet = Hatchet(dsn=database)
    blip = _declare(hatchet)
    hatchet.register(blip)
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    for _ in range(2):
        processes.append(Process(database, workdir, ["worker", "--slots", "4"], {}))
    marks = tmp_path / "marks.txt"
    marks.touch()
    items = [blip.create_bulk_run_item({"n": n, "marks": str(marks)}) for n in range(TASKS)]
    blip.run_many_no_wait(items)
    hatchet.close()
    wait_until(
        lambda: _statuses(database).get("SUCCEEDED", 0) >= TASKS // 5,
        timeout=60,
        message="a fifth of the runs to finish",
    )

    cluster.stop("immediate")
    down_at = time.monotonic()
    time.sleep(3)  # the outage itself, not a wait for a condition
    cluster.start()
    up_at = time.monotonic()

    try:
        wait_until(
            lambda: _statuses(database) == {"SUCCEEDED": TASKS},
            timeout=60,
            message=f"all {TASKS} runs to succeed",
        )
    except AssertionError as exc:
        logs = "\n".join(p.output()[-4000:] for p in processes)
        raise AssertionError(f"{exc}; runs: {_statuses(database)}\n{logs}") from None
    finished_at = time.monotonic()

    outputs = [p.output() for p in processes]
    assert all(p.alive() for p in processes), outputs
    executions = collections.Counter(
        int(line.split()[0]) for line in marks.read_text().splitlines()
    )
    assert set(executions) == set(range(TASKS))
    with psycopg.connect(database) as conn:
        rows = conn.execute(
            "SELECT (output ->> 'n')::int, attempt FROM hatchnb.task_runs "
            "WHERE status = 'SUCCEEDED'"
        ).fetchall()
    assert sorted(n for n, _ in rows) == list(range(TASKS))
    for text in outputs:
        assert "lost the database at postgresql://postgres:***@" in text, text
        assert PASSWORD not in text
        assert re.search(r"reconnected to the database after \d+\.\ds", text), text
        warnings = [line for line in text.splitlines() if "WARNING" in line]
        assert len(warnings) <= 8, "\n".join(warnings)
    reexecuted = sum(executions.values()) - TASKS
    reconnects = [
        float(m)
        for t in outputs
        for m in re.findall(r"reconnected to the database after (\S+)s", t)
    ]
    print(
        f"\nre-executions: {reexecuted}; task runs with attempt > 1: "
        f"{sum(1 for _, a in rows if a > 1)}; outage {up_at - down_at:.1f}s; worker "
        f"reconnects after {reconnects}; all done {finished_at - up_at:.1f}s after restart"
    )
    for text in outputs:
        print(text[-2500:])


def test_worker_started_while_the_database_is_down_waits_for_it(
    cluster: Cluster, database: str, processes: list[Process], tmp_path: Path
) -> None:
    Hatchet(dsn=database).close()  # migrated while up
    cluster.stop("fast")
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    worker = Process(database, workdir, ["worker", "--slots", "2"], {})
    processes.append(worker)
    retrying = "retrying in"
    wait_until(
        lambda: worker.output().count(retrying) >= 2,
        timeout=30,
        message="the worker to retry twice",
    )
    down_for = time.monotonic()
    text = worker.output()
    assert "HATCHNB_DATABASE_URL is postgresql://postgres:***@127.0.0.1" in text, text
    assert "Connection refused" in text and PASSWORD not in text
    time.sleep(3)  # stays down a while longer: the worker keeps waiting, with backoff
    assert worker.alive(), worker.output()
    assert worker.output().count(retrying) <= 5, worker.output()  # 0.5, 1, 2, 4 s apart

    cluster.start()
    wait_until(
        lambda: "started with 2 slots" in worker.output(),
        timeout=30,
        message="the worker to connect once the database is up",
    )
    print(f"\nworker connected {time.monotonic() - down_for:.1f}s after its second retry")
    hatchet = Hatchet(dsn=database)
    blip = _declare(hatchet)
    marks = tmp_path / "marks.txt"
    assert blip.run({"n": 7, "marks": str(marks)}) == {"n": 7}
    hatchet.close()


def test_a_log_line_with_a_nul_is_stored_escaped_and_holds_back_nothing(
    hatchet: Any, worker_process: Any, db: Any
) -> None:
    """Text columns cannot hold NUL: the line is stored escaped, rather than the database
    refusing the whole batch of log lines (and the results reported with it)."""

    @hatchet.task(name="nul_logger", execution_timeout="30s")
    def nul_logger(input: EmptyModel, ctx: Context) -> int:
        ctx.log("text columns cannot hold \x00")
        return 1

    proc = worker_process("--slots", "2")
    ref = nul_logger.run_no_wait()
    assert ref.result(timeout=30) == 1, proc.output()
    lines = wait_until(lambda: hatchet.runs.logs(ref.workflow_run_id), message="the log line")
    assert [line["message"] for line in lines] == ["text columns cannot hold \\x00"]


def test_a_client_survives_a_restart_with_every_pooled_connection_dead(
    cluster: Cluster, database: str
) -> None:
    hatchet = Hatchet(dsn=database)
    try:
        with ThreadPoolExecutor(4) as pool:  # fill the pool: four open connections
            list(pool.map(lambda _: hatchet.runs.list(), range(8)))
        cluster.stop("immediate")
        cluster.start()
        # every pooled connection is now dead; each call must still get a live one
        for _ in range(5):
            assert hatchet.runs.list() == []
    finally:
        hatchet.close()


def test_the_async_pool_survives_a_restart_with_every_connection_dead(
    cluster: Cluster, database: str
) -> None:
    """Durable logs and the worker's statements go through the async pools: after a server
    restart their idle connections are dead too, and each call must still get a live one
    (a durable task failed its retries on dead ones in the chaos soak)."""
    from hatchnb.store.db import AsyncStore

    Hatchet(dsn=database).close()  # migrates the database

    async def scenario() -> None:
        store = AsyncStore(database, max_size=4)
        await store.open()
        try:
            await asyncio.gather(*[store.fetch_one("history_range", hours=[]) for _ in range(8)])
            cluster.stop("immediate")
            cluster.start()
            for _ in range(5):
                rows = await store.fetch_all("history_range", hours=[])
                assert rows == [{"history_from": "infinity", "history_until": "-infinity"}]
        finally:
            await store.close()

    asyncio.run(scenario())
