"""Flow-control workflows for worker processes; each task run counts itself in a probe table
so the test can see the peak number running at once per key."""

from __future__ import annotations

import os
import time
from typing import Any

import psycopg

from hatchnb import (
    ConcurrencyExpression,
    ConcurrencyLimitStrategy,
    Context,
    DesiredWorkerLabel,
    EmptyModel,
    Hatchet,
    RateLimit,
    RateLimitDuration,
    StickyStrategy,
    WorkerLabelComparator,
)

PROBE_TABLE = """
CREATE TABLE IF NOT EXISTS probe (key text PRIMARY KEY, running int NOT NULL, peak int NOT NULL,
                                  done int NOT NULL DEFAULT 0)
"""


def _probe(key: str, delta: int) -> None:
    with psycopg.connect(os.environ["HATCHNB_DATABASE_URL"], autocommit=True) as conn:
        conn.execute(
            "INSERT INTO probe AS p (key, running, peak) VALUES (%(k)s, 1, 1) "
            "ON CONFLICT (key) DO UPDATE SET running = p.running + %(d)s, "
            "peak = greatest(p.peak, p.running + %(d)s), done = p.done + (%(d)s < 0)::int",
            {"k": key, "d": delta},
        )


def counted(key: str, seconds: float) -> dict[str, Any]:
    _probe(key, 1)
    try:
        time.sleep(seconds)
    finally:
        _probe(key, -1)
    return {"pid": os.getpid(), "key": key}


def declare(hatchet: Hatchet) -> dict[str, Any]:  # noqa: C901 (one flat list of declarations)
    def by(strategy: ConcurrencyLimitStrategy, max_runs: int) -> ConcurrencyExpression:
        return ConcurrencyExpression(
            expression="input.tenant", max_runs=max_runs, limit_strategy=strategy
        )

    @hatchet.task(
        concurrency=by(ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN, 2), execution_timeout="60s"
    )
    def per_tenant(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        extra = input.model_extra or {}
        return counted(extra["tenant"], float(extra.get("seconds", 0.2)))

    @hatchet.task(
        concurrency=by(ConcurrencyLimitStrategy.CANCEL_IN_PROGRESS, 1), execution_timeout="60s"
    )
    def newest_wins(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        extra = input.model_extra or {}
        ctx.wait_cancelled(float(extra["seconds"]))
        return {"n": extra["n"]}

    @hatchet.task(
        concurrency=by(ConcurrencyLimitStrategy.CANCEL_NEWEST, 1), execution_timeout="60s"
    )
    def oldest_wins(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        extra = input.model_extra or {}
        ctx.wait_cancelled(float(extra["seconds"]))
        return {"n": extra["n"]}

    # workflow-level: the slot covers the whole run, both tasks
    dag = hatchet.workflow(
        name="tenant_dag", concurrency=by(ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN, 1)
    )

    @dag.task(execution_timeout="60s")
    def first(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        return counted("dag-" + (input.model_extra or {})["tenant"], 0.1)

    @dag.task(parents=[first], execution_timeout="60s")
    def second(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        return counted("dag-" + (input.model_extra or {})["tenant"], 0.1)

    @hatchet.task(rate_limits=[RateLimit(static_key="api", units=1)], execution_timeout="60s")
    def limited(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        return {"at": time.time()}

    @hatchet.task(
        rate_limits=[
            RateLimit(
                dynamic_key="input.user",
                units="input.units",
                limit=2,
                duration=RateLimitDuration.SECOND,
            )
        ],
        execution_timeout="60s",
    )
    def per_user(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        return {"at": time.time()}

    @hatchet.task(execution_timeout="60s")
    def plain(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        return {"at": time.time()}

    sticky_dag = hatchet.workflow(name="sticky_dag", sticky=StickyStrategy.HARD)

    @sticky_dag.task(execution_timeout="60s")
    def one(input: EmptyModel, ctx: Context) -> str:
        time.sleep(0.05)
        return ctx.worker.id()

    @sticky_dag.task(parents=[one], execution_timeout="60s")
    def two(input: EmptyModel, ctx: Context) -> str:
        return ctx.worker.id()

    @sticky_dag.task(parents=[two], execution_timeout="60s")
    def three(input: EmptyModel, ctx: Context) -> str:
        return ctx.worker.id()

    @hatchet.task(
        desired_worker_labels={
            "gpu": DesiredWorkerLabel(value="yes", required=True),
            "memory": DesiredWorkerLabel(
                value=256, required=True, comparator=WorkerLabelComparator.LESS_THAN
            ),
        },
        execution_timeout="60s",
    )
    def needs_gpu(input: EmptyModel, ctx: Context) -> str:
        return ctx.worker.id()

    @hatchet.task(
        desired_worker_labels={"model": DesiredWorkerLabel(value="big", weight=10)},
        execution_timeout="60s",
    )
    def prefers_big_model(input: EmptyModel, ctx: Context) -> str:
        if (input.model_extra or {}).get("load"):
            ctx.worker.upsert_labels({"model": "big"})
        return ctx.worker.id()

    @hatchet.task(slot_cost=2, execution_timeout="60s")
    def heavy(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        return counted("heavy", 0.3)

    @hatchet.task(slot_cost=2, execution_timeout="60s")
    def releases_early(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        ctx.release_slot()
        return counted("released", 0.5)

    return {
        name: value
        for name, value in locals().items()
        if name not in {"hatchet", "by"} and not name.startswith("_")
    }
