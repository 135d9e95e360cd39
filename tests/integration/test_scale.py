"""Staying fast with many runs: the leader's cheap statistics refresh keeps the claim on the
queue index and does not repeat itself; status counts stop at a cap on either path."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from hatchnb import Context, EmptyModel, Hatchet
from hatchnb.config import Settings
from hatchnb.runtime.engine import Engine
from hatchnb.store.engine import LeaderSession
from tests.conftest import wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BURST = 20_000  # above the engine's STATISTICS_THRESHOLD, and a backlog worth sorting

#: the claim's candidate scan (hatchnb.claim_task_runs, 0002_state_machine.sql), literal values
CLAIM_SCAN = """
EXPLAIN SELECT t.* FROM hatchnb.task_runs t
 WHERE t.status = 'QUEUED' AND t.available_at <= now()
   AND t.workflow_name = ANY ('{noop}'::text[])
   AND EXISTS (SELECT 1 FROM hatchnb.workflow_versions v
                WHERE v.id = t.version_id AND v.python_version = %(python)s)
 ORDER BY t.priority DESC, t.id
 LIMIT 36
   FOR UPDATE OF t SKIP LOCKED
"""


def _task_stats(db: psycopg.Connection[Any]) -> dict[str, Any]:
    row = db.execute(
        "SELECT n_mod_since_analyze, analyze_count FROM pg_stat_user_tables"
        " WHERE relid = 'hatchnb.task_runs'::regclass"
    ).fetchone()
    assert row is not None
    return dict(row)


def _refresh(engine: Engine, dsn: str) -> None:
    async def once() -> None:
        async with LeaderSession.open(dsn, "hatchnb-test") as session:
            await engine.statistics.run(session)

    asyncio.run(once())


def test_statistics_refresh_is_cheap_keeps_the_claim_plan_and_does_not_repeat(
    hatchet: Hatchet, db: psycopg.Connection[Any], dsn: str
) -> None:
    @hatchet.task(name="noop")
    def noop(input: EmptyModel, ctx: Context) -> dict[str, int]:
        return {}

    db.execute("ANALYZE hatchnb.task_runs")  # statistics of an empty queue, as on a new install
    for offset in range(0, BURST, 1000):
        noop.run_many_no_wait([noop.create_bulk_run_item({"i": offset + k}) for k in range(1000)])
    wait_until(
        lambda: _task_stats(db)["n_mod_since_analyze"] >= BURST,
        timeout=30,
        message="the burst in pg_stat_user_tables",
    )
    before = _task_stats(db)["analyze_count"]
    engine = Engine(dsn, Settings.from_env(dsn))

    _refresh(engine, dsn)
    assert _task_stats(db)["analyze_count"] == before + 1
    # only the claim's columns, from a small sample: 10 histogram buckets, not 100
    columns = {
        r["attname"]: r["bounds"]
        for r in db.execute(
            "SELECT attname, cardinality(histogram_bounds::text::text[]) AS bounds"
            " FROM pg_stats WHERE schemaname = 'hatchnb' AND tablename = 'task_runs'"
        )
    }
    assert columns.get("id") == 11 and "input" not in columns
    assert "run_id" in columns  # the archive joins task runs by run
    queued = db.execute(
        "SELECT reltuples FROM pg_class WHERE oid = 'hatchnb.task_runs_queue'::regclass"
    ).fetchone()
    assert queued is not None and queued["reltuples"] > BURST / 2
    # the reason for the refresh: the claim walks the queue index instead of sorting all
    python = db.execute("SELECT python_version AS python FROM hatchnb.workflow_versions").fetchone()
    assert python is not None
    plan = "\n".join(r["QUERY PLAN"] for r in db.execute(CLAIM_SCAN, python))
    assert "Index Scan using task_runs_queue" in plan and "Sort" not in plan, plan

    # n_mod_since_analyze stays above the threshold after a column ANALYZE: no second one
    _refresh(engine, dsn)
    assert _task_stats(db)["analyze_count"] == before + 1
    # until as many rows change again
    db.execute("UPDATE hatchnb.task_runs SET priority = priority")
    db.execute("SELECT pg_stat_force_next_flush()")
    db.execute("SELECT 1")
    _refresh(engine, dsn)
    assert _task_stats(db)["analyze_count"] == before + 2


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location(
        "bench_generate", ROOT / "benchmarks" / "scale" / "generate.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_status_counts_stop_at_a_cap_with_and_without_filters(hatchet: Hatchet, dsn: str) -> None:
    _generator().generate(dsn, 2_000, days=10)
    month: dict[str, Any] = {"since": datetime.now(UTC) - timedelta(days=30)}
    exact = hatchet.runs.status_counts(**month)
    assert exact == {"SUCCEEDED": 1_700, "FAILED": 200, "CANCELLED": 100}
    assert hatchet.runs.status_counts(**month, cap=150) == {
        "SUCCEEDED": 150,
        "FAILED": 150,
        "CANCELLED": 100,
    }
    # 24 h of ten days: the range bounds the per-status walk
    day = hatchet.runs.status_counts(since=datetime.now(UTC) - timedelta(days=1))
    assert 0 < sum(day.values()) < 2_000
    # a workflow filter groups the matching runs instead; the cap still holds
    etl = hatchet.runs.status_counts(**month, workflow_names=["etl"])
    assert etl["FAILED"] == 200 and sum(etl.values()) == 1_200
    assert hatchet.runs.status_counts(**month, workflow_names=["etl"], cap=150) == {
        s: min(n, 150) for s, n in etl.items()
    }
    team = hatchet.runs.status_counts(**month, additional_metadata={"team": "ml"}, cap=10_000)
    assert sum(team.values()) == 400
    with pytest.raises(ValueError, match="cap=0"):
        hatchet.runs.status_counts(**month, cap=0)


@contextlib.contextmanager
def _explaining(dsn: str, plans: list[str]) -> Iterator[psycopg.Connection[Any]]:
    """A session whose every statement, nested ones included, adds its plan to ``plans``."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.add_notice_handler(lambda notice: plans.append(notice.message_primary or ""))
        conn.execute("LOAD 'auto_explain'")
        conn.execute("SET auto_explain.log_min_duration = 0")
        conn.execute("SET auto_explain.log_nested_statements = on")
        conn.execute("SET auto_explain.log_level = notice")
        yield conn


def test_claims_plan_once_and_walk_the_queue_index_before_any_statistics(
    hatchet: Hatchet, db: psycopg.Connection[Any], dsn: str
) -> None:
    """The claim's candidate scan is a generic plan (planned once per session, not at every
    claim) that walks task_runs_queue in claim order, also while task_runs has never been
    analyzed: there a generic plan sorted the whole backlog (migration 0028)."""
    db.execute("ALTER TABLE hatchnb.task_runs SET (autovacuum_enabled = off)")

    @hatchet.task(name="noop")
    def noop(input: EmptyModel, ctx: Context) -> dict[str, int]:
        return {}

    for offset in range(0, 5000, 1000):
        noop.run_many_no_wait([noop.create_bulk_run_item({"i": offset + k}) for k in range(1000)])
    never_analyzed = db.execute(
        "SELECT reltuples FROM pg_class WHERE oid = 'hatchnb.task_runs'::regclass"
    ).fetchone()
    assert never_analyzed is not None and never_analyzed["reltuples"] == -1
    python = db.execute("SELECT python_version FROM hatchnb.workflow_versions").fetchone()
    assert python is not None

    plans: list[str] = []
    with _explaining(dsn, plans) as conn:
        claimed = []
        for _ in range(7):  # past plpgsql's five custom plans
            rows = conn.execute(
                "SELECT id FROM hatchnb.claim_task_runs(%s, 3, NULL, %s)",
                (uuid.uuid4(), python["python_version"]),
            ).fetchall()
            claimed += [r[0] for r in rows]
    scans = [p for p in plans if "array_agg(q.id)" in p and "LockRows" in p]
    assert len(scans) == 7, plans
    for plan in scans:
        assert "Index Scan using task_runs_queue" in plan and "Sort" not in plan, plan
        assert re.search(r"\$\d", plan), f"a custom plan (parameters folded in):\n{plan}"
    assert claimed == sorted(claimed) and len(claimed) == 21  # oldest first


def test_a_worker_that_planned_on_an_empty_database_does_not_scan_the_grown_tables(
    hatchet: Hatchet, db: psycopg.Connection[Any], dsn: str
) -> None:
    """The start and finish statements' generic plans are made at a session's first claim;
    a worker started on an empty database made them while workflow_runs was tiny, and they
    scanned the whole table at every claim and finish after it grew (migration 0031)."""
    for table in ("task_runs", "workflow_runs"):
        db.execute(f"ALTER TABLE hatchnb.{table} SET (autovacuum_enabled = off)")

    @hatchet.task(name="noop")
    def noop(input: EmptyModel, ctx: Context) -> dict[str, int]:
        return {}

    hatchet.register(noop)
    python = db.execute("SELECT python_version FROM hatchnb.workflow_versions").fetchone()
    assert python is not None
    worker = uuid.uuid4()
    plans: list[str] = []
    with _explaining(dsn, plans) as conn:

        def claim_and_finish(slots: int) -> int:
            rows = conn.execute(
                "SELECT id, attempt FROM hatchnb.claim_task_runs(%s, %s, NULL, %s)",
                (worker, slots, python["python_version"]),
            ).fetchall()
            conn.execute(
                "SELECT hatchnb.finish_task_runs(%s, %s, %s, %s::jsonb[], %s, %s)",
                (
                    [r[0] for r in rows],
                    [r[1] for r in rows],
                    ["SUCCEEDED"] * len(rows),
                    ["{}"] * len(rows),
                    [None] * len(rows),
                    [None] * len(rows),
                ),
            )
            return len(rows)

        noop.run_no_wait({})
        assert claim_and_finish(1) == 1  # the plans are made here, on one run
        for offset in range(0, 3000, 1000):
            noop.run_many_no_wait(
                [noop.create_bulk_run_item({"i": offset + k}) for k in range(1000)]
            )
        plans.clear()
        assert claim_and_finish(3) == 3
    touching_runs = [p for p in plans if "workflow_runs" in p]
    assert len(touching_runs) >= 4, plans
    for plan in plans:
        assert "Seq Scan on workflow_runs" not in plan, plan
        assert "Seq Scan on task_runs" not in plan, plan
