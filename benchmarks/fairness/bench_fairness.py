"""Fairness and the cost of flow control, measured in one run on one database.

1. Fairness: tenant "big" enqueues 5,000 tasks, then tenant "small" enqueues 50, with
   GROUP_ROUND_ROBIN on ``input.tenant``. Reported: when small's last task finished,
   counted from the start of small's enqueue, next to how long big's backlog took.
2. Cost: the same no-op task, N runs each, plain vs. keyed (GROUP_ROUND_ROBIN over 20
   tenants, 10 runs each at a time) vs. rate-limited (a static limit that never binds, so
   only the bookkeeping is measured), in three interleaved rounds. The median throughput is
   reported as a ratio to plain (target: keyed >= 50% of plain).

Two ``hatchnb worker`` processes with 25 slots each run the tasks. Usage:

    HATCHNB_BENCH_DSN=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python benchmarks/fairness/bench_fairness.py [N]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import uuid
from typing import Any

import psycopg

from hatchnb import (
    ConcurrencyExpression,
    ConcurrencyLimitStrategy,
    Context,
    EmptyModel,
    Hatchet,
    RateLimit,
    RateLimitDuration,
)

ADMIN_DSN = os.environ.get("HATCHNB_BENCH_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
WORKERS, SLOTS, BATCH, ROUNDS = 2, 25, 1000, 3


def declare(hatchet: Hatchet) -> dict[str, Any]:
    @hatchet.task(name="plain")
    async def plain(input: EmptyModel, ctx: Context) -> None:
        return None

    @hatchet.task(
        name="keyed",
        concurrency=ConcurrencyExpression(
            expression="input.tenant",
            max_runs=10,
            limit_strategy=ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN,
        ),
    )
    async def keyed(input: EmptyModel, ctx: Context) -> None:
        return None

    @hatchet.task(name="limited", rate_limits=[RateLimit(static_key="bench", units=1)])
    async def limited(input: EmptyModel, ctx: Context) -> None:
        return None

    return {"plain": plain, "keyed": keyed, "limited": limited}


def enqueue(task: Any, inputs: list[dict[str, Any]]) -> None:
    for start in range(0, len(inputs), BATCH):
        items = [task.create_bulk_run_item(i) for i in inputs[start : start + BATCH]]
        task.run_many_no_wait(items)


def wait_done(conn: psycopg.Connection[Any], workflow: str) -> None:
    while conn.execute(
        "SELECT EXISTS (SELECT 1 FROM hatchnb.task_runs WHERE workflow_name = %s "
        "AND status NOT IN ('SUCCEEDED', 'FAILED', 'CANCELLED'))",
        (workflow,),
    ).fetchone()[0]:  # type: ignore[index]
        time.sleep(0.05)


def last_finish(conn: psycopg.Connection[Any], tenant: str) -> float:
    row = conn.execute(
        "SELECT extract(epoch FROM max(t.finished_at)) FROM hatchnb.task_runs t "
        "JOIN hatchnb.workflow_runs r ON r.id = t.run_id WHERE r.input ->> 'tenant' = %s",
        (tenant,),
    ).fetchone()
    return float(row[0])  # type: ignore[index]


def throughput(conn: psycopg.Connection[Any], task: Any, inputs: list[dict[str, Any]]) -> float:
    started = time.time()
    enqueue(task, inputs)
    wait_done(conn, task.name)
    return len(inputs) / (time.time() - started)


def main(n: int) -> None:
    database = f"hatchnb_fair_{uuid.uuid4().hex[:8]}"
    base = ADMIN_DSN.rpartition("/")[0]
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {database}")
    dsn = f"{base}/{database}"
    workers: list[subprocess.Popen[bytes]] = []
    try:
        hatchet = Hatchet(dsn=dsn)
        tasks = declare(hatchet)
        hatchet.rate_limits.put("bench", 10_000_000, RateLimitDuration.SECOND)
        for task in tasks.values():
            hatchet.register(task)
        env = {**os.environ, "HATCHNB_DATABASE_URL": dsn}
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "hatchnb", "worker", "--slots", str(SLOTS)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(WORKERS)
        ]
        with psycopg.connect(dsn, autocommit=True) as conn:
            while (
                conn.execute(
                    "SELECT count(*) FROM hatchnb.workers WHERE status = 'ACTIVE'"
                ).fetchone()[0]
                < WORKERS
            ):  # type: ignore[index]
                time.sleep(0.1)
            keyed = tasks["keyed"]
            big_start = time.time()
            enqueue(keyed, [{"tenant": "big"}] * 5000)
            small_start = time.time()
            enqueue(keyed, [{"tenant": "small"}] * 50)
            wait_done(conn, "keyed")
            small = last_finish(conn, "small") - small_start
            big = last_finish(conn, "big") - big_start
            print(
                f"fairness: small tenant's 50 tasks done {small:.2f} s after its enqueue "
                f"began; big tenant's 5,000 took {big:.2f} s "
                f"(small waited {small / big:.1%} of big's backlog)"
            )

            # interleaved rounds, median per kind: a neighbour's load hits all kinds alike
            samples: dict[str, list[float]] = {"plain": [], "keyed": [], "limited": []}
            for _ in range(ROUNDS):
                for name, inputs in (
                    ("plain", [{}] * n),
                    ("keyed", [{"tenant": f"t{i % 20}"} for i in range(n)]),
                    ("limited", [{}] * n),
                ):
                    samples[name].append(throughput(conn, tasks[name], inputs))
            rates = {name: statistics.median(values) for name, values in samples.items()}
            for name, rate in rates.items():
                print(
                    f"{name:8s} {rate:8.0f} tasks/s  {rate / rates['plain']:6.1%} of plain"
                    f"  (rounds: {', '.join(f'{v:.0f}' for v in samples[name])})"
                )
            ok = rates["keyed"] >= 0.5 * rates["plain"]
            print(f"target keyed >= 50% of plain: {'met' if ok else 'NOT met'}")
    finally:
        for proc in workers:
            proc.kill()
            proc.wait()
        with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3000)
