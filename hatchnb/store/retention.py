"""Retention: delete finished runs (and everything stored per run) older than a cutoff.

Hot rows go batch by batch; archived history (``hatchnb.store.history``) goes a whole day
partition at a time (DROP TABLE), its default partition batch by batch. Every batch is one
statement in its own short transaction that locks only the rows it deletes (``FOR UPDATE
SKIP LOCKED``), so triggers, claims, cancels and replays never wait for more than one batch.
Children are deleted before their parents (see ``retention.sql``); an archived tree shares
one partition. The engine leader starts a pass at most every ``HATCHNB_RETENTION_INTERVAL``;
``hatchnb prune`` and ``hatchet.runs.prune`` run one on demand.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import DictRow, dict_row
from psycopg.types.json import Jsonb

from hatchnb import errors
from hatchnb.store import connect, history, queries, wrap_errors
from hatchnb.store.db import NO_JIT

log = logging.getLogger("hatchnb.retention")

#: arbitrary constant: one retention pass at a time across engines
RETENTION_LOCK = 7_413_902_120

RUN_TABLES = (
    "workflow_runs",
    "task_runs",
    "task_logs",
    "stream_chunks",
    "durable_events",
    "task_attempts",
    "task_notebooks",
)
#: tables pruned after the runs, each by its own batched query
OTHER_TABLES = {
    "events": "prune_events_batch",
    "scheduled_runs": "prune_scheduled_batch",
    "alert_deliveries": "prune_alert_deliveries_batch",
    "workers": "prune_workers_batch",
    "idempotency_keys": "prune_idempotency_keys_batch",
    "otel_spans": "prune_otel_spans_batch",
}

Connection = psycopg.Connection[DictRow]
BatchCallback = Callable[[str, int], None]


@dataclasses.dataclass
class PruneReport:
    """What a pass deleted (or, with ``dry_run``, would delete), per table."""

    cutoff: datetime
    dry_run: bool
    counts: dict[str, int]
    #: batches run (statements that deleted something, plus the final empty one per table)
    batches: int = 0
    #: the slowest single batch, in seconds: the longest any row lock was held
    longest_batch: float = 0.0
    seconds: float = 0.0
    #: the UTC days whose history partitions were dropped (or would be, with ``dry_run``)
    history_days: list[datetime] = dataclasses.field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def prune(
    dsn: str,
    older_than: timedelta,
    *,
    batch_size: int = 1000,
    dry_run: bool = False,
    on_batch: BatchCallback | None = None,
) -> PruneReport:
    """Delete what finished more than ``older_than`` ago; ``on_batch(table, rows)`` is called
    after each committed batch."""
    if older_than <= timedelta(0):
        raise ValueError("older_than must be a positive duration")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    started = time.perf_counter()
    with wrap_errors(), _connect(dsn) as conn:
        row = conn.execute(queries.get("retention_cutoff"), {"older_than": older_than}).fetchone()
        if row is None:
            raise errors.HatchnbError("the database returned no retention cutoff")
        report = PruneReport(cutoff=row["cutoff"], dry_run=dry_run, counts={})
        if dry_run:
            counts = conn.execute(queries.get("count_prunable"), {"cutoff": report.cutoff})
            report.counts = {k: int(v) for k, v in (counts.fetchone() or {}).items()}
            _prune_history(conn, report, batch_size, on_batch)
        else:
            _prune_runs(conn, report, batch_size, on_batch)
            _prune_history(conn, report, batch_size, on_batch)
            for table, query in OTHER_TABLES.items():
                _prune_table(conn, report, table, query, batch_size, on_batch)
    report.seconds = time.perf_counter() - started
    return report


def _connect(dsn: str) -> Connection:
    return connect(
        dsn,
        NO_JIT,
        autocommit=True,
        row_factory=dict_row,
        application_name="hatchnb-retention",
    )


def _timed_batch(
    conn: Connection, report: PruneReport, query: str, params: dict[str, Any]
) -> dict[str, Any]:
    started = time.perf_counter()
    row = conn.execute(queries.get(query), params).fetchone()
    report.longest_batch = max(report.longest_batch, time.perf_counter() - started)
    report.batches += 1
    if row is None:
        raise errors.HatchnbError(f"retention batch {query} returned no counts")
    return row


def _prune_runs(
    conn: Connection, report: PruneReport, batch_size: int, on_batch: BatchCallback | None
) -> None:
    """Batches until one deletes nothing: a parent becomes prunable once its children are
    gone, so a short batch does not mean the end."""
    report.counts.update(dict.fromkeys(RUN_TABLES, 0))
    params = {"cutoff": report.cutoff, "batch": batch_size}
    while True:
        row = _timed_batch(conn, report, "prune_runs_batch", params)
        for table in RUN_TABLES:
            report.counts[table] += int(row[table])
        if not row["workflow_runs"]:
            return
        if on_batch:
            on_batch("workflow_runs", int(row["workflow_runs"]))


def _prune_history(
    conn: Connection, report: PruneReport, batch_size: int, on_batch: BatchCallback | None
) -> None:
    """Archived runs: their expired day partitions dropped, counted with the hot rows."""
    started = time.perf_counter()
    pruned = history.drop_expired(conn, report.cutoff, batch_size, report.dry_run)
    report.longest_batch = max(report.longest_batch, time.perf_counter() - started)
    report.history_days = pruned.days
    for table, n in pruned.counts.items():
        report.counts[table] = report.counts.get(table, 0) + n
    if on_batch and not report.dry_run and pruned.counts.get("workflow_runs"):
        on_batch("workflow_runs", pruned.counts["workflow_runs"])


def _prune_table(
    conn: Connection,
    report: PruneReport,
    table: str,
    query: str,
    batch_size: int,
    on_batch: BatchCallback | None,
) -> None:
    report.counts[table] = 0
    params = {"cutoff": report.cutoff, "batch": batch_size}
    while True:
        deleted = int(_timed_batch(conn, report, query, params)["deleted"])
        report.counts[table] += deleted
        if deleted and on_batch:
            on_batch(table, deleted)
        if deleted < batch_size:
            return


@dataclasses.dataclass(frozen=True)
class RetentionPass:
    """When the engine's retention last started and finished, and what it deleted."""

    started_at: datetime | None
    finished_at: datetime | None
    counts: dict[str, int] | None


def last_pass(dsn: str) -> RetentionPass | None:
    """The engine's last retention pass (None before the first)."""
    with wrap_errors(), _connect(dsn) as conn:
        row = conn.execute(queries.get("retention_state")).fetchone()
    if row is None:
        return None
    return RetentionPass(row["last_started_at"], row["last_finished_at"], row["last_counts"])


# ---- the engine duty ---------------------------------------------------------------------


def exclusive_pass(dsn: str, older_than: timedelta, batch_size: int) -> PruneReport | None:
    """A pass under the retention lock, recorded as finished; None while another runs."""
    with wrap_errors(), _connect(dsn) as lock_conn:
        row = lock_conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (RETENTION_LOCK,))
        if not (got := row.fetchone()) or not got["ok"]:
            return None
        report = prune(dsn, older_than, batch_size=batch_size)
        lock_conn.execute(queries.get("finish_retention_pass"), {"counts": Jsonb(report.counts)})
        return report
