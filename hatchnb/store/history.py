"""Run history: finished run trees leave the hot tables for day-partitioned history tables.

The engine leader archives (``archive_pass``) run trees whose every run finished more than
``HATCHNB_ARCHIVE_AFTER`` ago, in batches of one short transaction each (``FOR UPDATE SKIP
LOCKED``), and creates the partitions of the next days ahead. Reads see both through the
``*_all`` views; a replay or fork first moves the run's tree back (``restore_in``).
Retention drops whole days (``drop_expired``). Statements in ``sql/history.sql``, tables and
functions in ``sql/migrations/0022_run_history.sql``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable
from datetime import datetime, timedelta

import psycopg
from psycopg.rows import DictRow, dict_row

from hatchnb import errors
from hatchnb.store import connect, queries, wrap_errors
from hatchnb.store.db import NO_JIT, Tx

#: arbitrary constant: one archive pass at a time across engines
ARCHIVE_LOCK = 7_413_902_121
#: days of partitions the engine keeps created ahead of today (UTC)
DAYS_AHEAD = 3

Connection = psycopg.Connection[DictRow]


@dataclasses.dataclass
class ArchiveReport:
    """What an archive pass moved to history."""

    runs: int = 0
    task_runs: int = 0
    batches: int = 0
    seconds: float = 0.0


def _connect(dsn: str) -> Connection:
    return connect(
        dsn, NO_JIT, autocommit=True, row_factory=dict_row, application_name="hatchnb-archive"
    )


def archive(dsn: str, older_than: timedelta, *, batch_size: int = 500) -> ArchiveReport:
    """Move every run tree finished more than ``older_than`` ago to history, batch by batch,
    oldest first, until every terminal root has been looked at once."""
    if older_than <= timedelta(0):
        raise ValueError("older_than must be a positive duration")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    started = time.perf_counter()
    report = ArchiveReport()
    params: dict[str, object] = {
        "older_than": older_than,
        "batch": batch_size,
        "after": None,
        "after_id": None,
    }
    with wrap_errors(), _connect(dsn) as conn:
        while True:
            row = conn.execute(queries.get("archive_runs_batch"), params).fetchone()
            report.batches += 1
            if row is None or row["examined_until"] is None:
                break
            report.runs += int(row["runs"])
            report.task_runs += int(row["tasks"])
            params["after"] = row["examined_until"]
            params["after_id"] = row["examined_id"]
    report.seconds = time.perf_counter() - started
    return report


def create_partitions(dsn: str, days_ahead: int = DAYS_AHEAD) -> int:
    """Create the history partitions of today and the next ``days_ahead`` days (UTC) that
    do not exist yet; how many tables were created."""
    with wrap_errors(), _connect(dsn) as conn:
        row = conn.execute(
            queries.get("create_history_partitions"), {"days_ahead": days_ahead}
        ).fetchone()
    return int(row["created"]) if row else 0


def partition_days(dsn: str) -> list[datetime]:
    """The UTC days that have history partitions, oldest first."""
    with wrap_errors(), _connect(dsn) as conn:
        return [r["day"] for r in conn.execute(queries.get("history_days"))]


def exclusive_pass(dsn: str, older_than: timedelta, batch_size: int) -> ArchiveReport | None:
    """Partitions ahead, then an archive pass, under the archive lock; None while another
    engine's pass runs."""
    with wrap_errors(), _connect(dsn) as lock_conn:
        row = lock_conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (ARCHIVE_LOCK,))
        if not (got := row.fetchone()) or not got["ok"]:
            return None
        create_partitions(dsn)
        return archive(dsn, older_than, batch_size=batch_size)


def restore_in(tx: Tx, run_ids: Iterable[str]) -> int:
    """Move the archived trees holding these runs back to the hot tables, inside the caller's
    transaction (a replay or fork then finds them there); the runs restored."""
    row = tx.execute(queries.get("restore_runs"), {"ids": list(run_ids)}).fetchone()
    return int(row["restored"]) if row and row["restored"] else 0


# ---- retention ------------------------------------------------------------------------------


@dataclasses.dataclass
class HistoryPrune:
    """What retention removed from history (or would, in a dry run): rows per table and the
    day partitions dropped."""

    counts: dict[str, int]
    days: list[datetime]


def drop_expired(
    conn: Connection, cutoff: datetime, batch_size: int, dry_run: bool
) -> HistoryPrune:
    """Drop the day partitions that end by ``cutoff`` (each day in its own transaction) and
    delete the default partition's expired rows in batches; rows per table."""
    result = HistoryPrune(counts={}, days=[])
    for row in conn.execute(queries.get("expired_history_days"), {"cutoff": cutoff}).fetchall():
        counts = conn.execute(
            queries.get("drop_history_day"), {"day": row["day"], "dry_run": dry_run}
        ).fetchone()
        if counts is None:
            raise errors.HatchnbError(f"dropping history day {row['day']} returned no counts")
        _add(result.counts, counts["counts"])
        result.days.append(row["day"])
    params = {"cutoff": cutoff, "batch": batch_size, "dry_run": dry_run}
    while True:
        counts = conn.execute(queries.get("prune_history_default_batch"), params).fetchone()
        if counts is None:
            raise errors.HatchnbError("pruning the default history partitions returned no counts")
        _add(result.counts, counts["counts"])
        if dry_run or max(counts["counts"].values(), default=0) < batch_size:
            return result


def _add(total: dict[str, int], counts: dict[str, int]) -> None:
    for table, n in counts.items():
        total[table] = total.get(table, 0) + int(n)
