"""Durable task overhead: 100 memoized steps versus a plain task, and replay time.

    .venv/bin/python benchmarks/durable/bench_durable.py    # uses HATCHNB_BENCH_DSN's server

It creates (and drops) its own database. Prints one table and one JSON line.
"""

from __future__ import annotations

import json
import os
import statistics
import time
import uuid
from typing import Any

import psycopg

ADMIN = os.environ.get("HATCHNB_BENCH_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
STEPS = int(os.environ.get("BENCH_STEPS", "100"))
RUNS = int(os.environ.get("BENCH_RUNS", "20"))


def _bump(n: int) -> int:
    return n + 1


def main() -> None:
    name = f"bench_durable_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        print(json.dumps(measure(ADMIN.rsplit("/", 1)[0] + "/" + name)))
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


def measure(dsn: str) -> dict[str, Any]:
    os.environ["HATCHNB_DURABLE_EVICT_AFTER"] = "0"  # every sleep evicts: replay on resume
    from hatchnb import Context, DurableContext, EmptyModel, Hatchet

    hatchet = Hatchet(dsn=dsn)

    @hatchet.task()
    async def plain(input: EmptyModel, ctx: Context) -> int:
        n = 0
        for _ in range(STEPS):
            n = _bump(n)
        return n

    @hatchet.durable_task()
    async def durable(input: EmptyModel, ctx: DurableContext) -> int:
        n = 0
        for i in range(STEPS):
            n = await ctx.aio_step(f"step-{i}", _bump, n)
        if input.model_extra.get("evict"):
            await ctx.aio_sleep_for("0.2s")  # evicted, then resumed: a full replay
        return n

    worker = hatchet.worker("bench", slots=4, workflows=[plain, durable]).start_background()
    try:
        plain_ms = _median_ms(lambda: plain.run())
        durable_ms = _median_ms(lambda: durable.run())
        replay_ms = _replay_ms(hatchet, durable)
    finally:
        worker.stop(10)
        hatchet.close()
    result = {
        "steps": STEPS,
        "runs": RUNS,
        "plain_run_ms": plain_ms,
        "durable_run_ms": durable_ms,
        "overhead_per_step_ms": round((durable_ms - plain_ms) / STEPS, 3),
        "replay_ms": replay_ms,
    }
    header = "| steps | plain run (ms) | durable run (ms) | per step (ms) | replay (ms) |"
    row = (
        f"| {STEPS} | {plain_ms} | {durable_ms} | {result['overhead_per_step_ms']} | {replay_ms} |"
    )
    print(header, "|---:|---:|---:|---:|---:|", row, sep="\n")
    return result


def _median_ms(run: Any) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1)


def _replay_ms(hatchet: Any, durable: Any) -> float:
    """Median time of the resumed execution (all steps replayed from the log)."""
    times = []
    for _ in range(max(RUNS // 4, 3)):
        ref = durable.run_no_wait({"evict": True})
        ref.result(timeout=60)
        task = hatchet.runs.get(ref.workflow_run_id).tasks[0]
        assert task.attempt == 2, task
        times.append((task.finished_at - task.started_at).total_seconds() * 1000)
    return round(statistics.median(times), 1)


if __name__ == "__main__":
    main()
