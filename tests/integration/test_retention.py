"""Retention: expired runs and what they store are deleted in short batches, children before
parents; recent, unfinished and related runs stay; writers are not held up; the engine
leader prunes on its own. Also the scale benchmark's generator, against engine-written rows."""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from hatchnb import Context, DurableContext, EmptyModel, Hatchet, errors
from hatchnb.config import parse_duration
from hatchnb.store.retention import prune
from tests.conftest import wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
MONTH = timedelta(days=30)
#: every table a run stores rows in, and how to find a run's rows there
PER_RUN = {
    "workflow_runs": "SELECT count(*) AS n FROM hatchnb.workflow_runs WHERE id = ANY (%(ids)s)",
    "task_runs": "SELECT count(*) AS n FROM hatchnb.task_runs WHERE run_id = ANY (%(ids)s)",
    "task_logs": "SELECT count(*) AS n FROM hatchnb.task_logs l JOIN hatchnb.task_runs t"
    " ON t.id = l.task_run_id WHERE t.run_id = ANY (%(ids)s)",
    "stream_chunks": "SELECT count(*) AS n FROM hatchnb.stream_chunks WHERE run_id = ANY (%(ids)s)",
    "durable_events": "SELECT count(*) AS n FROM hatchnb.durable_events d JOIN hatchnb.task_runs"
    " t ON t.id = d.task_run_id WHERE t.run_id = ANY (%(ids)s)",
    "task_attempts": "SELECT count(*) AS n FROM hatchnb.task_attempts WHERE run_id = ANY (%(ids)s)",
    "task_notebooks": "SELECT count(*) AS n FROM hatchnb.task_notebooks"
    " WHERE run_id = ANY (%(ids)s)",
}


@pytest.fixture(autouse=True)
def no_engine_retention(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process workers' engines must not prune what a test ages (the last test turns it
    on for its worker process)."""
    monkeypatch.setenv("HATCHNB_RETENTION", "off")
    monkeypatch.setenv("HATCHNB_ARCHIVE_AFTER", "off")


def load_generator() -> Any:
    spec = importlib.util.spec_from_file_location(
        "scale_generate", ROOT / "benchmarks" / "scale" / "generate.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["scale_generate"] = module
    spec.loader.exec_module(module)
    return module


def age(db: psycopg.Connection[Any], run_ids: list[str], days: float) -> None:
    """Move runs (and the events that started them) ``days`` into the past."""
    shift = timedelta(days=days)
    db.execute(
        "UPDATE hatchnb.workflow_runs SET created_at = created_at - %(s)s,"
        " started_at = started_at - %(s)s, finished_at = finished_at - %(s)s"
        " WHERE id = ANY (%(ids)s)",
        {"s": shift, "ids": run_ids},
    )
    db.execute(
        "UPDATE hatchnb.events SET created_at = created_at - %(s)s WHERE id IN"
        " (SELECT event_id FROM hatchnb.workflow_runs WHERE id = ANY (%(ids)s))",
        {"s": shift, "ids": run_ids},
    )


def rows_of(db: psycopg.Connection[Any], run_ids: list[str]) -> dict[str, int]:
    return {t: db.execute(q, {"ids": run_ids}).fetchone()["n"] for t, q in PER_RUN.items()}


def run_ids(db: psycopg.Connection[Any]) -> set[str]:
    return {str(r["id"]) for r in db.execute("SELECT id FROM hatchnb.workflow_runs")}


def no_orphans(db: psycopg.Connection[Any]) -> bool:
    row = db.execute(
        "SELECT count(*) AS n FROM hatchnb.workflow_runs c WHERE c.parent_task_run_id IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM hatchnb.task_runs t WHERE t.id = c.parent_task_run_id)"
    ).fetchone()
    return bool(row and row["n"] == 0)


def test_durations_parse_like_the_settings_say() -> None:
    assert parse_duration("30d") == timedelta(days=30)
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("90") == timedelta(seconds=90)
    assert parse_duration("off") is None
    assert parse_duration("0") is None
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("30 days")
    with pytest.raises(ValueError, match="negative"):
        parse_duration("-5")


def test_old_finished_runs_go_with_everything_they_stored(
    hatchet: Hatchet, db: psycopg.Connection[Any], start_worker: Callable[..., Any]
) -> None:
    @hatchet.task(name="logged", on_events=["order:*"])
    def logged(input: EmptyModel, ctx: Context) -> dict[str, int]:
        ctx.log("working")
        ctx.put_stream("half way")
        return {"ok": 1}

    @hatchet.task(name="failing")
    def failing(input: EmptyModel, ctx: Context) -> None:
        ctx.log("about to fail")
        raise RuntimeError("boom")

    @hatchet.durable_task(name="durable")
    def durable(input: EmptyModel, ctx: DurableContext) -> dict[str, int]:
        return {"n": ctx.step("count", lambda: 3)}

    @hatchet.task(name="unserved")
    def unserved(input: EmptyModel, ctx: Context) -> None:
        return None

    start_worker(logged, failing, durable)
    old = [logged.run_no_wait() for _ in range(3)]
    old.append(durable.run_no_wait())
    failed = failing.run_no_wait()
    with pytest.raises(errors.FailedRunError):
        failed.result(timeout=15)
    cancelled = unserved.run_no_wait()
    hatchet.runs.cancel(str(cancelled))
    event = hatchet.event.push("order:1", {"n": 1})
    for ref in old:
        ref.result(timeout=15)
    old_ids = [str(r) for r in [*old, failed, cancelled]]
    event_run = wait_until(lambda: hatchet.event.get(event.event_id).run_ids, message="event run")
    wait_until(lambda: hatchet.runs.get_status(str(event_run[0])) == "SUCCEEDED")
    old_ids.append(str(event_run[0]))
    task_run = db.execute(
        "SELECT id, attempt FROM hatchnb.task_runs WHERE run_id = %s", (old_ids[0],)
    ).fetchone()
    db.execute(
        "INSERT INTO hatchnb.task_notebooks (task_run_id, attempt, run_id, task_name, notebook,"
        " failed) VALUES (%s, %s, %s, 'logged', '{}', false)",
        (task_run["id"], task_run["attempt"], old_ids[0]),
    )

    recent = logged.run_no_wait()
    recent.result(timeout=15)
    running = unserved.run_no_wait()  # nothing serves it: it stays QUEUED
    age(db, [*old_ids, str(running)], days=40)
    kept = [str(recent), str(running)]
    expected = rows_of(db, old_ids)
    kept_before = rows_of(db, kept)
    assert expected["task_logs"] >= 5 and expected["stream_chunks"] >= 3
    assert expected["durable_events"] >= 1 and expected["task_attempts"] >= 6

    dry = hatchet.runs.prune(older_than=MONTH, dry_run=True)
    assert {t: dry.counts[t] for t in PER_RUN} == expected
    assert dry.counts["events"] == 1
    assert rows_of(db, old_ids) == expected  # a dry run deletes nothing

    report = hatchet.runs.prune(older_than=MONTH)
    assert {t: report.counts[t] for t in PER_RUN} == expected
    assert report.counts["events"] == 1
    assert rows_of(db, old_ids) == dict.fromkeys(PER_RUN, 0)
    assert rows_of(db, kept) == kept_before
    assert db.execute("SELECT count(*) AS n FROM hatchnb.events").fetchone()["n"] == 0
    assert hatchet.runs.prune(older_than=MONTH).total == 0


def test_live_children_and_children_of_kept_parents_stay(
    hatchet: Hatchet, db: psycopg.Connection[Any], start_worker: Callable[..., Any]
) -> None:
    @hatchet.task(name="done_child")
    def done_child(input: EmptyModel, ctx: Context) -> dict[str, int]:
        return {"child": 1}

    @hatchet.task(name="live_child")
    def live_child(input: EmptyModel, ctx: Context) -> None:
        return None

    @hatchet.task(name="spawner")
    def spawner(input: EmptyModel, ctx: Context) -> dict[str, str]:
        if (input.model_extra or {}).get("live"):
            return {"child": str(live_child.run_no_wait())}  # nobody serves it
        done_child.run()
        return {"child": "done"}

    start_worker(spawner, done_child)
    live_parent, recent_parent, old_parent = (
        spawner.run_no_wait({"live": True}),
        spawner.run_no_wait(),
        spawner.run_no_wait(),
    )
    for ref in (live_parent, recent_parent, old_parent):
        ref.result(timeout=20)

    def child_of(parent: Any) -> str:
        return str(
            db.execute(
                "SELECT c.id FROM hatchnb.workflow_runs c JOIN hatchnb.task_runs t"
                " ON t.id = c.parent_task_run_id WHERE t.run_id = %s",
                (str(parent),),
            ).fetchone()["id"]
        )

    live_child_id, recent_child, old_child = map(child_of, (live_parent, recent_parent, old_parent))
    age(db, [str(live_parent), live_child_id, recent_child], days=40)
    # the parent finished after its child, but ageing it further puts it first in line:
    # it must still wait for its child to go
    age(db, [str(old_parent)], days=41)
    age(db, [old_child], days=40)

    dry = hatchet.runs.prune(older_than=MONTH, dry_run=True)
    seen_orphans: list[bool] = []
    report = prune(
        hatchet.dsn,
        MONTH,
        batch_size=1,
        on_batch=lambda table, n: seen_orphans.append(not no_orphans(db)),
    )
    assert report.counts["workflow_runs"] == 2 == dry.counts["workflow_runs"]
    assert report.counts == dry.counts
    assert not any(seen_orphans)
    remaining = run_ids(db)
    assert str(old_parent) not in remaining and old_child not in remaining
    assert {str(live_parent), live_child_id, str(recent_parent), recent_child} <= remaining


def test_pruning_goes_in_short_batches_and_writers_do_not_wait(
    hatchet: Hatchet, db: psycopg.Connection[Any], dsn: str
) -> None:
    generator = load_generator()
    # large enough that one DELETE of every old run would hold row locks for over a second
    generated = generator.generate(dsn, 100_000, days=60)
    cutoff_ids = db.execute(
        "SELECT count(*) AS n FROM hatchnb.workflow_runs WHERE finished_at < now() - %s",
        (MONTH,),
    ).fetchone()["n"]
    assert generated["workflow_runs"] == 100_000 and cutoff_ids > 45_000
    # every new session of this database, the writer's included, gives up after 1 s of
    # waiting for a lock
    database = dsn.rsplit("/", 1)[1]
    db.execute(f"ALTER DATABASE {database} SET lock_timeout = '1s'")
    writer = Hatchet(dsn=dsn)
    observer = psycopg.connect(dsn, autocommit=True)
    stop = threading.Event()
    waits: list[float] = []
    failures: list[BaseException] = []
    batches: list[tuple[int, int]] = []

    def old_runs() -> int:
        row = observer.execute(
            "SELECT count(*) FROM hatchnb.workflow_runs WHERE created_at < now() - interval '1 day'"
        ).fetchone()
        return int(row[0]) if row else -1

    def on_batch(table: str, deleted: int) -> None:
        if table == "workflow_runs":
            batches.append((deleted, old_runs()))

    etl = next(wf for wf in generator.declare(writer) if wf.name == "etl")
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    worker_id = str(uuid.uuid4())

    def write() -> None:
        try:
            while not stop.is_set():
                started = time.perf_counter()
                etl.run_no_wait()
                writer._store.fetch_all(
                    "claim_task_runs",
                    worker_id=worker_id,
                    limit=10,
                    workflows=None,
                    python=python,
                )
                oldest = observer.execute(
                    "SELECT id FROM hatchnb.workflow_runs WHERE status = 'SUCCEEDED'"
                    " ORDER BY finished_at LIMIT 1"
                ).fetchone()
                if oldest:  # what a user replaying an old run does: lock it
                    # (the pass may delete it between that read and the replay)
                    with contextlib.suppress(errors.RunNotFound):
                        writer.runs.replay(str(oldest[0]))
                waits.append(time.perf_counter() - started)
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=write)
    try:
        before = old_runs()
        thread.start()
        report = prune(dsn, MONTH, batch_size=500, on_batch=on_batch)
    finally:
        stop.set()
        thread.join(30)
        writer.close()
        observer.close()
    assert not failures, failures
    assert len(waits) >= 5
    # a whole prune of this backlog holds its locks far longer; the bound leaves room for a
    # busy 2-core machine
    assert max(waits) < 2.0
    run_batches = [n for n, _ in batches]
    assert len(run_batches) >= 90 and max(run_batches) == 500
    # each batch was committed on its own: another session saw the old runs shrink by it
    remaining = [before - sum(run_batches[: k + 1]) for k in range(len(run_batches))]
    assert [left for _, left in batches] == remaining
    assert report.longest_batch < 2.0


def test_engine_leader_prunes_when_retention_is_due(
    hatchet: Hatchet, db: psycopg.Connection[Any], dsn: str, worker_process: Callable[..., Any]
) -> None:
    generator = load_generator()
    generator.generate(dsn, 300, days=10)
    etl = next(wf for wf in generator.declare(hatchet) if wf.name == "etl")
    proc = worker_process("--slots", "4", HATCHNB_RETENTION="3s", HATCHNB_RETENTION_INTERVAL="1s")
    fresh = etl.run_no_wait()
    fresh.result(timeout=20)  # executed by the worker process
    assert str(fresh) in run_ids(db)
    wait_until(lambda: not run_ids(db), timeout=30, message=f"pruned runs\n{proc.output()}")
    state = db.execute("SELECT * FROM hatchnb.retention_state").fetchone()
    assert state["last_finished_at"] is not None
    assert db.execute("SELECT count(*) AS n FROM hatchnb.task_logs").fetchone()["n"] == 0
    assert db.execute("SELECT count(*) AS n FROM hatchnb.events").fetchone()["n"] == 0


def test_run_counts_stop_at_a_cap(hatchet: Hatchet, dsn: str) -> None:
    from hatchnb.dashboard.pages.runs import COUNT_CAP, total_label

    load_generator().generate(dsn, 2_000, days=10)
    month: dict[str, Any] = {"since": datetime.now(UTC) - MONTH}
    assert hatchet.runs.count(**month) == 2_000
    assert hatchet.runs.count(**month, cap=501) == 501
    assert hatchet.runs.count(**month, statuses=["FAILED"], cap=5_000) == 200
    assert total_label(COUNT_CAP) == f"{COUNT_CAP}"
    assert total_label(COUNT_CAP + 1) == "10,000+"


def test_generated_rows_look_like_engine_rows(
    hatchet: Hatchet, db: psycopg.Connection[Any], dsn: str, start_worker: Callable[..., Any]
) -> None:
    generator = load_generator()
    etl, report, notify = generator.declare(hatchet)
    start_worker(etl, notify)
    etl.run()
    with pytest.raises(errors.FailedRunError):
        etl.run({"fail": True})
    notify.run()
    cancelled = report.run_no_wait()  # no worker serves report: cancelled while queued
    hatchet.runs.cancel(str(cancelled))
    real = run_ids(db)
    counts = generator.generate(dsn, 1_000, days=60)
    assert counts["workflow_runs"] == 1_000
    assert counts["task_runs"] == 1_600 and counts["task_attempts"] > 1_000

    def shapes(table: str, key: str, own: bool) -> dict[tuple[Any, ...], set[frozenset[str]]]:
        """Per kind of row: which columns are NULL (real rows vs generated ones)."""
        found: dict[tuple[Any, ...], set[frozenset[str]]] = {}
        for row in db.execute(f"SELECT * FROM hatchnb.{table}"):
            if (str(row[key]) in real) != own:
                continue
            kind = (row.get("workflow_name"), row.get("task_name"), row.get("status"))
            nulls = frozenset(c for c, v in row.items() if v is None)
            found.setdefault(kind, set()).add(nulls)
        return found

    for table, key in (
        ("workflow_runs", "id"),
        ("task_runs", "run_id"),
        ("task_attempts", "run_id"),
    ):
        engine, generated = shapes(table, key, True), shapes(table, key, False)
        for kind, nulls in engine.items():
            assert generated.get(kind, set()) >= nulls, (table, kind, nulls, generated.get(kind))
    statuses = {
        r["status"]: r["n"]
        for r in db.execute(
            "SELECT status, count(*) AS n FROM hatchnb.workflow_runs GROUP BY status"
        )
    }
    assert statuses["FAILED"] > 50 and statuses["CANCELLED"] > 20
