"""Does hatchnb stay fast with a million finished runs?

    nice -n 10 .venv/bin/python benchmarks/scale/bench_scale.py     # HATCHNB_BENCH_DSN's server

For each size (BENCH_SIZES, default "10000,1000000") it creates a database, fills it with
that many finished runs spread over 60 days (``generate.py``, set-based), runs VACUUM ANALYZE
(as autovacuum would have), then measures:

* dequeue: DEQUEUE_TASKS (5,000) fresh no-op tasks drained by two fresh ``hatchnb worker``
  processes (20 slots each), DEQUEUE_ROUNDS (3) times; tasks/s from the first start to the
  last finish (hatchnb's own started_at/finished_at, so process start-up is excluded), the
  median and each round, and how many times task_runs was analyzed meanwhile;
* the leader's statistics refresh on that table: the column ANALYZE it runs
  (``analyze_task_runs``) against a full ``ANALYZE hatchnb.task_runs`` (what it ran before
  migration 0010), median of 3;
* the dashboard's runs page queries: ``runs.list(limit=50)`` + ``runs.count`` capped as the
  page counts, with no filter (last 24 h and last 30 days) and with a status, a workflow, a
  selective and a broad metadata filter over 30 days; the exact count, the exact status
  counts and the status counts capped as the page counts them, over 30 days: median of
  REPEAT warm repetitions;
* one retention pass (``older_than`` 30 days: about half the runs): rows/s and the longest
  batch.

Prints a table with the 1M / 10k ratio and one JSON line; drops its databases.
"""

from __future__ import annotations

import inspect
import json
import os
import statistics
import subprocess
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

from generate import generate  # noqa: E402

from hatchnb import Context, EmptyModel, Hatchet  # noqa: E402
from hatchnb.dashboard.pages.runs import COUNT_CAP  # noqa: E402
from hatchnb.store import queries  # noqa: E402
from hatchnb.store.retention import prune  # noqa: E402

ADMIN = os.environ.get("HATCHNB_BENCH_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
SIZES = [int(s) for s in os.environ.get("BENCH_SIZES", "10000,1000000").split(",")]
DEQUEUE_TASKS = int(os.environ.get("DEQUEUE_TASKS", "5000"))
ROUNDS = int(os.environ.get("DEQUEUE_ROUNDS", "3"))
BATCH = int(os.environ.get("BENCH_PRUNE_BATCH", "1000"))
REPEAT = 9
#: no worker may prune while we measure; the pass is timed explicitly
QUIET = {"HATCHNB_RETENTION": "off"}


def declare_noop(hatchet: Hatchet) -> Any:
    @hatchet.task(name="noop")
    async def noop(input: EmptyModel, ctx: Context) -> dict[str, int]:
        return {}

    return noop


def dequeue_rate(hatchet: Hatchet, dsn: str, workdir: Path) -> dict[str, Any]:
    """DEQUEUE_ROUNDS drains (fresh workers each time); the median rate and every round's."""
    noop = declare_noop(hatchet)
    rates = []
    analyzed_before = analyze_count(dsn)
    for _ in range(ROUNDS):
        rates.append(drain_once(noop, dsn, workdir))
    return {
        "tasks": DEQUEUE_TASKS,
        "tasks_per_s": statistics.median(rates),
        "rounds (tasks/s)": " / ".join(f"{r:,.0f}" for r in rates),
        "task_runs analyzes during the drains": analyze_count(dsn) - analyzed_before,
    }


def drain_once(noop: Any, dsn: str, workdir: Path) -> float:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT coalesce(max(id), 0) FROM hatchnb.task_runs").fetchone()
    after = int(row[0]) if row else 0  # this round's task runs have greater ids
    for offset in range(0, DEQUEUE_TASKS, 1000):
        count = min(1000, DEQUEUE_TASKS - offset)
        noop.run_many_no_wait([noop.create_bulk_run_item({"i": offset + k}) for k in range(count)])
    env = {**os.environ, **QUIET, "HATCHNB_DATABASE_URL": dsn}
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "hatchnb", "worker", "--slots", "20", "--workflow", "noop"],
            cwd=workdir,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                # this round's rows by primary key: a scan of all task runs every 0.2 s
                # would itself slow the drain at 1M rows (300 ms each)
                row = conn.execute(
                    "SELECT count(*) FROM hatchnb.task_runs"
                    " WHERE id > %s AND status <> 'SUCCEEDED'",
                    (after,),
                ).fetchone()
                if row and row[0] == 0:
                    break
                time.sleep(0.2)
            row = conn.execute(
                "SELECT count(*), extract(epoch FROM max(finished_at) - min(started_at))"
                " FROM hatchnb.task_runs WHERE id > %s AND status = 'SUCCEEDED'",
                (after,),
            ).fetchone()
    finally:
        for proc in workers:
            proc.terminate()
        for proc in workers:
            proc.wait(30)
    assert row is not None
    done, span = int(row[0]), float(row[1])
    assert done == DEQUEUE_TASKS, done
    return round(done / span, 1)


def analyze_count(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT analyze_count + autoanalyze_count FROM pg_stat_user_tables"
            " WHERE relid = 'hatchnb.task_runs'::regclass"
        ).fetchone()
    return int(row[0]) if row else 0


def refresh_cost(dsn: str) -> dict[str, float]:
    """The engine's statistics refresh (a column ANALYZE from a 3,000-row sample) against the
    full ANALYZE it ran before (30,000 rows, every column)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        return {
            "engine refresh = analyze_task_runs (ms)": median_ms(
                lambda: conn.execute(queries.get("analyze_task_runs")), repeat=3
            ),
            "full ANALYZE task_runs (ms)": median_ms(
                lambda: conn.execute("ANALYZE hatchnb.task_runs"), repeat=3
            ),
        }


def median_ms(fn: Callable[[], Any], repeat: int = REPEAT) -> float:
    fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(samples), 1)


def runs_page(hatchet: Hatchet) -> dict[str, Any]:
    now = datetime.now(UTC)
    month = now - timedelta(days=30)
    cases: dict[str, dict[str, Any]] = {
        "24h, no filter": {"since": now - timedelta(days=1)},
        "30d, no filter": {"since": month},
        "30d, status FAILED": {"since": month, "statuses": ["FAILED"]},
        "30d, workflow report": {"since": month, "workflow_names": ["report"]},
        "30d, metadata customer=c7": {"since": month, "additional_metadata": {"customer": "c7"}},
        "30d, metadata team=ml": {"since": month, "additional_metadata": {"team": "ml"}},
    }
    out: dict[str, Any] = {}
    for name, filters in cases.items():
        out[f"list+count {name} (ms)"] = median_ms(
            lambda f=filters: (  # type: ignore[misc]
                hatchet.runs.list(**f, limit=50),
                hatchet.runs.count(**f, cap=COUNT_CAP + 1),  # as the runs page counts
            )
        )
        out[f"count {name} (rows)"] = hatchet.runs.count(**filters)
    out["exact count 30d, no filter (ms)"] = median_ms(lambda: hatchet.runs.count(since=month))
    out["status_counts 30d (ms)"] = median_ms(lambda: hatchet.runs.status_counts(since=month))
    if "cap" in inspect.signature(hatchet.runs.status_counts).parameters:  # not before 0010
        out["status_counts 30d capped as the page (ms)"] = median_ms(
            lambda: hatchet.runs.status_counts(since=month, cap=COUNT_CAP + 1)
        )
    return out


def measure(size: int) -> dict[str, Any]:
    name = f"bench_scale_{size}_{uuid.uuid4().hex[:6]}"
    dsn = ADMIN.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
    os.environ.update(QUIET)
    try:
        result: dict[str, Any] = {"runs": size}
        started = time.perf_counter()
        result["generated"] = generate(dsn, size, days=60)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        result["build_seconds"] = round(time.perf_counter() - started, 1)
        hatchet = Hatchet(dsn=dsn)
        try:
            result.update(runs_page(hatchet))
            workdir = Path("/tmp") / name
            workdir.mkdir(exist_ok=True)
            result["dequeue"] = dequeue_rate(hatchet, dsn, workdir)
        finally:
            hatchet.close()
        result["statistics"] = refresh_cost(dsn)
        report = prune(dsn, timedelta(days=30), batch_size=BATCH)
        rows = report.total
        result["prune"] = {
            "rows": rows,
            "runs": report.counts["workflow_runs"],
            "seconds": round(report.seconds, 1),
            "rows_per_s": round(rows / report.seconds),
            "batches": report.batches,
            "longest_batch_ms": round(report.longest_batch * 1000, 1),
        }
        return result
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")  # type: ignore[arg-type]


def flatten(result: dict[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in result.items():
        if isinstance(value, dict):
            for inner, number in value.items():
                flat[f"{key} {inner}"] = number
        else:
            flat[key] = value
    return flat


def table(results: list[dict[str, Any]]) -> str:
    small, large = (flatten(r) for r in (results[0], results[-1]))
    lines = [
        f"| measurement | {results[0]['runs']:,} runs | {results[-1]['runs']:,} runs | ratio |",
        "|---|---:|---:|---:|",
    ]
    for key, value in large.items():
        base = small.get(key)
        if isinstance(value, str) or isinstance(base, str):
            lines.append(f"| {key} | {base} | {value} | |")
            continue
        ratio = f"{value / base:.2f}" if base else ""
        lines.append(f"| {key} | {base:,} | {value:,} | {ratio} |")
    return "\n".join(lines)


def main() -> None:
    results = []
    for size in SIZES:
        print(f"building and measuring {size:,} runs ...", file=sys.stderr, flush=True)
        results.append(measure(size))
        print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    print(table(results))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
