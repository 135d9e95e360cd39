"""What the metrics page asks for when it opens: the last hour's queue-depth history and
throughput, with N task attempts finished in that hour.

    .venv/bin/python benchmarks/dashboard/bench_metrics_charts.py   # HATCHNB_BENCH_DSN's server

It makes and drops its own database; BENCH_ATTEMPTS="10000,100000" sets the sizes."""

from __future__ import annotations

import os
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import psycopg

ADMIN = os.environ.get("HATCHNB_BENCH_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
SIZES = [int(n) for n in os.environ.get("BENCH_ATTEMPTS", "10000,100000").split(",")]
REPEAT = 5

SEED = """
INSERT INTO hatchnb.task_attempts (task_run_id, run_id, workflow_name, task_name, attempt,
                                   outcome, queued_at, started_at, finished_at)
SELECT i, gen_random_uuid(), 'wf', 't', 1, 'SUCCEEDED', q, q + interval '2 seconds',
       q + interval '3 seconds'
  FROM (SELECT i, now() - random() * interval '59 minutes' AS q
          FROM generate_series(1, %s) i) s
"""


def main() -> None:
    name = f"bench_metrics_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        measure(ADMIN.rsplit("/", 1)[0] + "/" + name)
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


def measure(dsn: str) -> None:
    from hatchnb import Hatchet

    hatchet = Hatchet(dsn=dsn)
    hour = timedelta(hours=1)
    calls: dict[str, Callable[[], Any]] = {
        "queue_depth_history": lambda: hatchet.metrics.queue_depth_history(hour),
        "throughput": lambda: hatchet.metrics.throughput(hour),
    }
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            for size in SIZES:
                conn.execute("TRUNCATE hatchnb.task_attempts")
                conn.execute(SEED, (size,))
                conn.execute("ANALYZE hatchnb.task_attempts")
                for label, call in calls.items():
                    print(f"{size:>8} attempts  {label:22} {median_ms(call):8.1f} ms")
    finally:
        hatchet.close()


def median_ms(call: Callable[[], Any]) -> float:
    call()  # warm
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


if __name__ == "__main__":
    main()
