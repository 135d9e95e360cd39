"""Soak under faults: 5,000 standalone tasks and 500 DAG runs (fan-out, spawned children,
retries, a durable sleep, a concurrency key) through 3 worker processes on a throwaway
PostgreSQL, while the driver SIGKILLs a random worker every few seconds (and starts a new
one), kills the engine leader once and restarts PostgreSQL once.

At the end every run must be terminal and succeeded, none lost, every DAG task and spawned
child must exist exactly once, and no concurrency key may ever have had more executions at
once than its limit. The figures are printed as one line starting with ``chaos:``."""

from __future__ import annotations

import collections
import contextlib
import random
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from hatchnb import Hatchet, TriggerWorkflowOptions
from hatchnb.runtime.engine import LEADER_LOCK
from tests.chaos import chaos_flows
from tests.distributed.cluster import Cluster, Process, started

pytestmark = [pytest.mark.integration, pytest.mark.workers, pytest.mark.chaos]

WAVES = 20
WAVE_EVERY = 1.5  # seconds
PLAIN, KEYED, DAGS = 200, 50, 25  # per wave: 5,000 standalone tasks and 500 DAG runs in all
TENANTS = 10
WORKERS, SLOTS = 3, 30
KILL_EVERY = 3.0
LEADER_KILL_AT, POSTGRES_RESTART_AT, POSTGRES_DOWN = 8.0, 17.0, 2.0
DRAIN_TIMEOUT = 180.0
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass
class Chaos:
    """What the driver did, for the checks and the summary."""

    kills: dict[int, float] = field(default_factory=dict)  # pid -> when it was SIGKILLed
    leader_killed: int | None = None
    postgres_down: float = 0.0
    enqueue_retries: int = 0


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with started(Cluster()) as server:
        yield server


# waves, then up to DRAIN_TIMEOUT for the drain: the drain's own assertion (which says what is
# unfinished) must fire before pytest's default timeout would cut the test short
@pytest.mark.timeout(60 + int(DRAIN_TIMEOUT) + 60)
def test_soak_under_kills_leader_loss_and_a_postgres_restart(
    cluster: Cluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dsn = cluster.create_database(f"chaos_{uuid.uuid4().hex[:8]}")
    marks = tmp_path / "marks.log"
    workdir = tmp_path / "workers"
    workdir.mkdir()
    hatchet = Hatchet(dsn=dsn)
    flows = chaos_flows.declare(hatchet)
    for runnable in flows.values():
        hatchet.register(runnable)

    def start_worker() -> Process:
        args = ["worker", "--slots", str(SLOTS)]
        return Process(dsn, workdir, args, {"CHAOS_MARKS": str(marks)})

    workers = [start_worker() for _ in range(WORKERS)]
    chaos = Chaos()
    started = time.monotonic()
    try:
        driver = threading.Thread(target=_enqueue_waves, args=(hatchet, flows, chaos), daemon=True)
        driver.start()
        _make_chaos(cluster, dsn, workers, start_worker, chaos, started)
        driver.join(60)
        assert not driver.is_alive(), "the driver could not enqueue every wave"
        _wait_until_all_terminal(dsn, started)
        elapsed = time.monotonic() - started
        summary = _check(dsn, marks, chaos, elapsed)
    finally:
        for proc in workers:
            proc.stop()
        hatchet.close()
    with capsys.disabled():
        print(f"\n{summary}")
    artifacts = Path(__file__).parents[1] / "artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "chaos_summary.txt").write_text(summary + "\n")


# ---- the driver ----------------------------------------------------------------------------


def _enqueue_waves(hatchet: Hatchet, flows: dict[str, Any], chaos: Chaos) -> None:
    for wave in range(WAVES):
        tick = time.monotonic()
        _enqueue(
            hatchet, flows["plain"], wave, [_plain_input(wave, i) for i in range(PLAIN)], chaos
        )
        keyed = [
            {"n": i, "tenant": f"tenant{i % TENANTS}", "seconds": random.uniform(0.02, 0.2)}
            for i in range(KEYED)
        ]
        _enqueue(hatchet, flows["keyed"], wave, keyed, chaos)
        _enqueue(hatchet, flows["dag"], wave, [{"n": i} for i in range(DAGS)], chaos)
        time.sleep(max(0.0, WAVE_EVERY - (time.monotonic() - tick)))


def _plain_input(wave: int, i: int) -> dict[str, Any]:
    return {"n": i, "seconds": random.uniform(0.02, 0.3), "flaky": (wave + i) % 10 == 0}


def _enqueue(
    hatchet: Hatchet, runnable: Any, wave: int, inputs: list[dict[str, Any]], chaos: Chaos
) -> None:
    """One bulk insert; when the database drops mid-call, look before enqueueing again (the
    insert may have committed before the connection went)."""
    meta = {"wave": wave, "kind": runnable.name}
    items = [
        runnable.create_bulk_run_item(i, options=TriggerWorkflowOptions(additional_metadata=meta))
        for i in inputs
    ]
    deadline = time.monotonic() + 60
    while True:
        try:
            if not hatchet.runs.list(additional_metadata=meta, limit=1, since=EPOCH):
                runnable.run_many_no_wait(items)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            chaos.enqueue_retries += 1
            time.sleep(0.5)


def _make_chaos(
    cluster: Cluster,
    dsn: str,
    workers: list[Process],
    start_worker: Any,
    chaos: Chaos,
    started: float,
) -> None:
    """SIGKILL a random worker every KILL_EVERY seconds and start a new one; the engine
    leader once; PostgreSQL down for POSTGRES_DOWN seconds once."""
    leader_done = restart_done = False
    while time.monotonic() - started < WAVES * WAVE_EVERY:
        time.sleep(KILL_EVERY)
        now = time.monotonic() - started
        if not leader_done and now >= LEADER_KILL_AT:
            leader_done = True
            leader = _leader_pid(dsn)
            victim = next((w for w in workers if w.pid == leader), None)
            if victim is not None:
                chaos.leader_killed = leader
                _kill(victim, workers, start_worker, chaos)
                continue
        if not restart_done and now >= POSTGRES_RESTART_AT:
            restart_done = True
            down = time.monotonic()
            cluster.stop("immediate")
            time.sleep(POSTGRES_DOWN)
            cluster.start()
            chaos.postgres_down = time.monotonic() - down
            continue
        _kill(random.choice(workers), workers, start_worker, chaos)
    assert chaos.leader_killed is not None, "no worker held the engine leader lock"
    assert restart_done


def _kill(victim: Process, workers: list[Process], start_worker: Any, chaos: Chaos) -> None:
    victim.proc.send_signal(signal.SIGKILL)
    victim.proc.wait(10)
    chaos.kills[victim.pid] = time.time()
    victim.stop()
    workers[workers.index(victim)] = start_worker()


def _leader_pid(dsn: str) -> int | None:
    """The OS pid of the process whose engine holds the leader lock (its connection's
    application_name is hatchnb-engine-<pid>)."""
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s",
            (LEADER_LOCK >> 32, LEADER_LOCK & 0xFFFFFFFF),
        ).fetchone()
    return int(row[0].rsplit("-", 1)[1]) if row else None


def _wait_until_all_terminal(dsn: str, started: float) -> None:
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while time.monotonic() < deadline:
        with contextlib.suppress(psycopg.OperationalError):
            with psycopg.connect(dsn, connect_timeout=5) as conn:
                row = conn.execute(
                    "SELECT count(*) FILTER (WHERE status NOT IN "
                    "('SUCCEEDED', 'FAILED', 'CANCELLED')), count(*) FROM hatchnb.workflow_runs"
                ).fetchone()
            assert row is not None
            expected = WAVES * (PLAIN + KEYED + DAGS * (1 + chaos_flows.CHILDREN_PER_DAG))
            if row[0] == 0 and row[1] >= expected:
                return
        time.sleep(0.5)
    raise AssertionError(
        f"runs still not terminal {time.monotonic() - started:.0f}s after the soak began"
    )


# ---- the checks --------------------------------------------------------------------------


def _check(dsn: str, marks: Path, chaos: Chaos, elapsed: float) -> str:
    with psycopg.connect(dsn) as conn:
        statuses: dict[str, int] = dict(
            conn.execute(
                "SELECT status, count(*) FROM hatchnb.workflow_runs GROUP BY status"
            ).fetchall()
        )
        per_kind: dict[str, Any] = dict(
            conn.execute(
                "SELECT workflow_name, count(*) FROM hatchnb.workflow_runs"
                " WHERE parent_task_run_id IS NULL GROUP BY workflow_name"
            ).fetchall()
        )
        dag_shapes = conn.execute(
            "SELECT count(*) FILTER (WHERE status = 'SUCCEEDED'), array_agg(task_name)"
            "  FROM hatchnb.task_runs WHERE workflow_name = 'chaos_dag' AND kind = 'task'"
            " GROUP BY run_id"
        ).fetchall()
        children = conn.execute(
            "SELECT count(c.id) FROM hatchnb.task_runs t"
            "  LEFT JOIN hatchnb.workflow_runs c ON c.parent_task_run_id = t.id"
            " WHERE t.workflow_name = 'chaos_dag' AND t.task_name = 'root' GROUP BY t.id"
        ).fetchall()
        task_runs, retries = conn.execute(
            "SELECT count(*), coalesce(sum(retry_count), 0) FROM hatchnb.task_runs"
            " WHERE kind = 'task'"
        ).fetchone() or (0, 0)
        unplanned = conn.execute(
            "SELECT count(*), min(left(error, 120)) FROM hatchnb.task_attempts"
            " WHERE outcome = 'FAILED' AND error NOT LIKE '%flaky on purpose%'"
        ).fetchone() or (0, None)
        failures = conn.execute(
            "SELECT workflow_name, left(error, 200) FROM hatchnb.workflow_runs"
            " WHERE status <> 'SUCCEEDED' LIMIT 5"
        ).fetchall()

    total = sum(statuses.values())
    assert per_kind == {
        "chaos_plain": WAVES * PLAIN,
        "chaos_keyed": WAVES * KEYED,
        "chaos_dag": WAVES * DAGS,
    }, f"runs lost or duplicated: {per_kind}"
    assert statuses == {"SUCCEEDED": total}, f"not all succeeded: {statuses}; e.g. {failures}"
    assert len(dag_shapes) == WAVES * DAGS
    for succeeded, names in dag_shapes:
        assert sorted(names) == sorted(chaos_flows.TASKS_PER_DAG), names  # each task once
        assert succeeded == len(chaos_flows.TASKS_PER_DAG)
    spawned = collections.Counter(n for (n,) in children)
    assert spawned == {chaos_flows.CHILDREN_PER_DAG: WAVES * DAGS}, f"children: {spawned}"

    executions, peak = _executions(marks, chaos)
    assert peak <= chaos_flows.TENANT_LIMIT, f"a key had {peak} executions at once"
    re_executions = executions - task_runs - int(retries)
    return (
        f"chaos: {total} runs ({WAVES * (PLAIN + KEYED)} tasks, {WAVES * DAGS} DAGs, "
        f"{WAVES * DAGS * chaos_flows.CHILDREN_PER_DAG} children) all terminal and succeeded,"
        f" 0 lost, DAG tasks and children exactly once; {len(chaos.kills)} worker SIGKILLs"
        f" (one the engine leader), PostgreSQL down {chaos.postgres_down:.1f}s once;"
        f" {executions} executions of {task_runs} task runs = {int(retries)} retries +"
        f" {re_executions} re-executions; {unplanned[0]} unplanned failed attempts"
        f"{f' (e.g. {unplanned[1]!r})' if unplanned[0] else ''};"
        f" peak per key {peak}/{chaos_flows.TENANT_LIMIT};"
        f" {chaos.enqueue_retries} enqueue retries; {elapsed:.0f}s"
    )


def _executions(marks: Path, chaos: Chaos) -> tuple[int, int]:
    """(executions, the most executions of one key at once). An execution is one process
    running one attempt of a task run (attempt numbers count retries, not re-executions);
    one without an end line ended when its worker was SIGKILLed."""
    starts: dict[tuple[str, str, int], tuple[str, float]] = {}
    ends: dict[tuple[str, str, int], float] = {}
    for line in marks.read_text().splitlines():
        event, task_run, attempt, key, pid, at = line.split()
        execution = (task_run, attempt, int(pid))
        if event == "start":
            starts[execution] = (key, float(at))
        else:
            ends[execution] = float(at)
    events: list[tuple[str, float, int]] = []
    for execution, (key, began) in starts.items():
        if key == "-":
            continue
        ended = ends.get(execution, chaos.kills.get(execution[2], float("inf")))
        events += [(key, began, 1), (key, ended, -1)]
    peak = 0
    running: collections.Counter[str] = collections.Counter()
    for key, _, delta in sorted(events, key=lambda e: (e[1], e[2])):
        running[key] += delta
        peak = max(peak, running[key])
    return len(starts), peak
