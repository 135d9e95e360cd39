"""Does 10M runs of history slow down dequeue or the dashboard? (issue 20)

    nice -n 10 .venv/bin/python benchmarks/scale/bench_history.py   # HATCHNB_BENCH_DSN's server

Builds two databases side by side: ``empty`` (a fresh schema) and ``history``, filled with
HISTORY_RUNS (10,000,000) finished runs and one task run each, straight into the history
tables of migration 0022 (INSERT ... SELECT generate_series, one statement per CHUNK runs,
created over the last HISTORY_DAYS (30) days into their daily partitions), then VACUUM
ANALYZE. Then, alternating between the two databases so machine noise hits both alike:

* dequeue: DEQUEUE_TASKS (5,000) no-op tasks drained by two ``hatchnb worker`` processes
  (``bench_scale.drain_once``), DEQUEUE_ROUNDS (3) rounds each; the median tasks/s;
* then one in ten drained runs is marked FAILED in both databases (so both FAILED pages
  list hot runs) and the hot tables are analyzed, as autovacuum would (settle_hot_rows);
* the dashboard's runs page refresh (``runs.list(limit=50)`` + ``runs.count`` and
  ``runs.status_counts`` capped as the page caps them) over the last 24 h and 7 days, with
  and without a status and a workflow filter; median of REPEAT warm repetitions;
* the run page of one run (``runs.get`` + ``runs.logs`` + ``runs.attempts``): an archived
  run in ``history``, a finished hot run in ``empty``;
* one archive pass (``hatchnb.store.history.archive``) over the drained runs, made 2 hours
  old: runs moved per second.

Both databases hold the same hot rows (the drained tasks); ``history`` has the 10M runs
more. Prints a table (history / empty ratio) and one JSON line; drops its databases.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent.parent))

from bench_scale import declare_noop, drain_once, median_ms  # noqa: E402

from hatchnb import Hatchet  # noqa: E402
from hatchnb.dashboard.pages.runs import COUNT_CAP  # noqa: E402
from hatchnb.store import history  # noqa: E402

ADMIN = os.environ.get("HATCHNB_BENCH_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
RUNS = int(os.environ.get("HISTORY_RUNS", "10000000"))
DAYS = int(os.environ.get("HISTORY_DAYS", "30"))
CHUNK = int(os.environ.get("HISTORY_CHUNK", "500000"))
ROUNDS = int(os.environ.get("DEQUEUE_ROUNDS", "3"))
#: HATCHNB_ARCHIVE_BATCH values compared (500 is the default)
ARCHIVE_BATCHES = (500, 2000)
#: the engine's archive duty stays on (its default); retention must not touch the fill
QUIET = {"HATCHNB_RETENTION": "off"}

# One chunk of runs and their task runs, oldest first, spread evenly over the window that
# ends 2 hours ago (as if archived after HATCHNB_ARCHIVE_AFTER=1h); 85 % SUCCEEDED, 10 %
# FAILED, 5 % CANCELLED; one run in ten has a customer in its metadata. Task run ids start
# at 10^10, far above the hot table's identity.
FILL_SQL = """
WITH t AS (
    SELECT i, md5('run' || i || %(salt)s) AS digits,
           %(end)s::timestamptz
               - make_interval(secs => %(span)s * (%(total)s - i)::float8 / %(total)s)
               AS created_at
      FROM generate_series(%(lo)s::int, %(hi)s::int) AS i
), r AS MATERIALIZED (
    -- UUIDv7 ids of their creation times, as hatchnb.ids.uuid7 makes them
    SELECT i, created_at,
           (lpad(to_hex((extract(epoch FROM created_at) * 1000)::bigint), 12, '0') || '7'
            || substr(digits, 14, 3) || '8' || substr(digits, 18, 15))::uuid AS id,
           CASE WHEN i %% 20 = 7 THEN 'CANCELLED' WHEN i %% 10 = 3 THEN 'FAILED'
                ELSE 'SUCCEEDED' END AS status,
           CASE WHEN i %% 10 = 0 THEN jsonb_build_object('customer', 'c' || i %% 1000)
                ELSE '{}' END AS meta
      FROM t
), runs AS (
    INSERT INTO hatchnb.workflow_runs_history
        (id, workflow_name, version_id, status, input, additional_metadata, priority,
         pending_tasks, failed_tasks, has_hooks, error, created_at, started_at, finished_at,
         history_at, history_root)
    SELECT id, 'noop', %(version)s, status, jsonb_build_object('i', i), meta, 1, 0,
           (status = 'FAILED')::int, false,
           CASE WHEN status = 'FAILED' THEN 'noop: RuntimeError: boom' END,
           created_at, created_at + interval '4 ms', created_at + interval '30 ms',
           created_at + interval '30 ms', id
      FROM r
)
INSERT INTO hatchnb.task_runs_history
    (id, run_id, workflow_name, version_id, task_name, kind, status, priority, retries,
     retry_count, attempt, schedule_timeout, execution_timeout, available_at, queued_at,
     started_at, finished_at, output, error, created_at, history_at)
SELECT 10000000000 + i, id, 'noop', %(version)s, 'noop', 'task', status, 1, 0, 0, 1,
       interval '5 minutes', interval '60 seconds', created_at, created_at,
       created_at + interval '4 ms', created_at + interval '30 ms',
       CASE WHEN status = 'SUCCEEDED' THEN '{}'::jsonb END,
       CASE WHEN status = 'FAILED' THEN 'RuntimeError: boom' END,
       created_at, created_at + interval '30 ms'
  FROM r
"""

# What the archive records of the runs it moves (migration 0026): their id hours' days and
# the hourly totals.
BOOKKEEPING_SQL = [
    "INSERT INTO hatchnb.history_id_hours (id_hour, day)"
    " SELECT DISTINCT hatchnb.run_id_hour(id), (history_at AT TIME ZONE 'UTC')::date"
    " FROM hatchnb.workflow_runs_history",
    "INSERT INTO hatchnb.history_run_counts (created_hour, workflow_name, status, day, runs)"
    " SELECT hatchnb.utc_hour(created_at), workflow_name, status,"
    " (history_at AT TIME ZONE 'UTC')::date, count(*)"
    " FROM hatchnb.workflow_runs_history GROUP BY 1, 2, 3, 4",
]


#: settle_hot_rows: the same share of drained runs fails in both databases (by id)
SETTLE_SQL = (
    "UPDATE hatchnb.task_runs SET status = 'FAILED', error = 'bench'"
    " WHERE abs(hashtext(run_id::text)) % 10 = 3",
    "UPDATE hatchnb.workflow_runs SET status = 'FAILED', error = 'bench'"
    " WHERE abs(hashtext(id::text)) % 10 = 3",
    "ANALYZE hatchnb.workflow_runs",
    "ANALYZE hatchnb.task_runs",
)


def fill(dsn: str, version: int) -> dict[str, Any]:
    """HISTORY_RUNS runs with their task runs, straight into history; rows and seconds."""
    started = time.perf_counter()
    today = datetime.now(UTC).date()
    with psycopg.connect(dsn, autocommit=True, options="-c jit=off") as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute(
            "SELECT hatchnb.create_history_partitions(%s, %s)",
            (today - timedelta(days=DAYS + 1), today),
        )
        end = datetime.now(UTC) - timedelta(hours=2)
        for lo in range(1, RUNS + 1, CHUNK):
            params = {
                "version": version,
                "span": DAYS * 86_400,
                "total": RUNS,
                "lo": lo,
                "hi": min(lo + CHUNK - 1, RUNS),
                "end": end,
                "salt": "",
            }
            conn.execute(FILL_SQL, params)
        for statement in BOOKKEEPING_SQL:
            conn.execute(statement)  # type: ignore[arg-type]
        conn.execute("VACUUM ANALYZE")
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM hatchnb.workflow_runs_history),"
            " (SELECT count(*) FROM hatchnb.task_runs_history),"
            " pg_size_pretty(pg_database_size(current_database()))"
        ).fetchone()
    assert counts is not None
    return {
        "runs": counts[0],
        "task_runs": counts[1],
        "database size": counts[2],
        "seconds": round(time.perf_counter() - started, 1),
    }


def runs_page(hatchet: Hatchet) -> dict[str, Callable[[], Any]]:
    """The runs page's queries for each filter case, as one callable each."""
    now = datetime.now(UTC)
    cases: dict[str, dict[str, Any]] = {
        "24h": {"since": now - timedelta(days=1)},
        "7d": {"since": now - timedelta(days=7)},
        "7d, status FAILED": {"since": now - timedelta(days=7), "statuses": ["FAILED"]},
        "7d, workflow noop": {"since": now - timedelta(days=7), "workflow_names": ["noop"]},
    }

    def page(filters: dict[str, Any]) -> Callable[[], Any]:
        counted = {k: v for k, v in filters.items() if k != "statuses"}
        return lambda: (
            hatchet.runs.list(**filters, limit=50),
            hatchet.runs.count(**filters, cap=COUNT_CAP + 1),
            hatchet.runs.status_counts(**counted, cap=COUNT_CAP + 1),
        )

    return {f"runs page {name} (ms)": page(f) for name, f in cases.items()}


def run_page(hatchet: Hatchet, run_id: str) -> Callable[[], Any]:
    return lambda: (
        hatchet.runs.get(run_id),
        hatchet.runs.logs(run_id),
        hatchet.runs.attempts(run_id),
    )


def settle_hot_rows(dsn: str) -> None:
    """One in ten drained runs (by id) fails, in both databases, so both FAILED pages list
    hot runs; then the hot tables are analyzed, as autovacuum would do on a deployment (it
    may be off on a test cluster: `SHOW autovacuum`)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for statement in SETTLE_SQL:
            conn.execute(statement)  # type: ignore[arg-type]


def some_run(dsn: str, table: str) -> str:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            f"SELECT id FROM hatchnb.{table} WHERE status = 'SUCCEEDED'"  # type: ignore[arg-type]
            " ORDER BY created_at LIMIT 1"
        ).fetchone()
    assert row is not None, f"no finished run in {table}"
    return str(row[0])


def archive_rates(dsn: str, batches: tuple[int, ...]) -> list[float]:
    """The drained runs made 2 hours old, then moved to history by one archive pass per batch
    size (restored to the hot tables in between); runs/s of each pass."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "UPDATE hatchnb.workflow_runs SET finished_at = finished_at - interval '2 hours'"
        )
        hot = [r[0] for r in conn.execute("SELECT id FROM hatchnb.workflow_runs").fetchall()]
        rates = []
        for batch in batches:
            report = history.archive(dsn, timedelta(hours=1), batch_size=batch)
            assert report.runs > 0, "nothing archived"
            print(f"batch {batch}: archived {report.runs} of {len(hot)} runs", flush=True)
            rates.append(round(report.runs / report.seconds, 1))
            conn.execute("SELECT hatchnb.restore_runs(%s)", (hot,))
    return rates


def create_database(label: str) -> tuple[str, str]:
    name = f"bench_history_{label}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
    return name, ADMIN.rsplit("/", 1)[0] + "/" + name


def drop_database(name: str) -> None:
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")  # type: ignore[arg-type]


def main() -> None:
    os.environ.update(QUIET)
    names: list[str] = []
    clients: dict[str, Hatchet] = {}
    try:
        dsns = {}
        for label in ("empty", "history"):
            name, dsns[label] = create_database(label)
            names.append(name)
            clients[label] = Hatchet(dsn=dsns[label])
        noops = {label: declare_noop(h) for label, h in clients.items()}
        version = clients["history"].register(noops["history"])
        result: dict[str, Any] = {"fill": fill(dsns["history"], version)}
        print("filled:", result["fill"], flush=True)
        rates: dict[str, list[float]] = {"empty": [], "history": []}
        for _ in range(ROUNDS):
            for label in ("empty", "history"):
                workdir = Path("/tmp") / f"bench_history_{label}"
                workdir.mkdir(exist_ok=True)
                rates[label].append(drain_once(noops[label], dsns[label], workdir))
        for dsn in dsns.values():
            settle_hot_rows(dsn)
        rows: dict[str, dict[str, Any]] = {}
        for label in ("empty", "history"):
            rows.setdefault("dequeue (tasks/s)", {})[label] = statistics.median(rates[label])
            rows.setdefault("dequeue rounds (tasks/s)", {})[label] = " / ".join(
                f"{r:,.0f}" for r in rates[label]
            )
        pages = {label: runs_page(h) for label, h in clients.items()}
        for query in pages["empty"]:
            for label in ("empty", "history"):
                rows.setdefault(query, {})[label] = median_ms(pages[label][query])
        runs = {
            "empty": some_run(dsns["empty"], "workflow_runs"),
            "history": some_run(dsns["history"], "workflow_runs_history"),
        }
        for label in ("empty", "history"):
            rows.setdefault("run page: get + logs + attempts (ms)", {})[label] = median_ms(
                run_page(clients[label], runs[label])
            )
        print(table(rows), flush=True)  # kept should the archive passes fail
        for label in ("empty", "history"):
            rates_of = archive_rates(dsns[label], ARCHIVE_BATCHES)
            for batch, rate in zip(ARCHIVE_BATCHES, rates_of, strict=True):
                name = f"archive pass over the drained runs, batch {batch:,} (runs/s)"
                rows.setdefault(name, {})[label] = rate
        result["measurements"] = rows
        print(table(rows))
        print(json.dumps(result, default=str))
    finally:
        for hatchet in clients.values():
            hatchet.close()
        for name in names:
            drop_database(name)


def table(rows: dict[str, dict[str, Any]]) -> str:
    lines = [
        f"| measurement | empty | {RUNS:,} runs of history | history / empty |",
        "|---|---:|---:|---:|",
    ]
    for name, values in rows.items():
        empty, full = values["empty"], values["history"]
        ratio = f"{full / empty:.2f}" if isinstance(empty, float) and empty else ""
        lines.append(f"| {name} | {empty} | {full} | {ratio} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
